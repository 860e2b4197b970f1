"""Build rewriters from spec strings: ``rules`` (shapes briefs), ``keep``, ``openai:MODEL``."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from agent.rewriters.base import Rewriter
from tools.errors import InputError

_FACTORIES: dict[str, tuple[str, str] | Callable[..., Rewriter]] = {
    "rules": ("agent.rewriters.shapes", "make_rules_rewriter"),
    "keep": ("agent.rewriters.keep", "make_keep_rewriter"),
    "openai": ("agent.rewriters.llm", "make_llm_rewriter"),
}


def register(prefix: str, factory: Callable[..., Rewriter] | tuple[str, str]) -> None:
    _FACTORIES[prefix] = factory


def make_rewriter(spec: str, **options: Any) -> Rewriter:
    prefix, _, arg = (spec or "").strip().partition(":")
    factory = _FACTORIES.get(prefix)
    if factory is None:
        raise InputError(f"unknown rewriter spec {spec!r}; use one of: rules, keep, openai:MODEL")
    if isinstance(factory, tuple):
        factory = getattr(importlib.import_module(factory[0]), factory[1])
    return factory(arg, **options)
