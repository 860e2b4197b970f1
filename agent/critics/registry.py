"""Build critics from spec strings: ``scene``, ``scripted:PATH``, ``openai:MODEL``, ``clip:PATH``.

Built-in critics register themselves exactly as any other would, through :func:`register`.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from agent.critics.base import Critic
from tools.errors import InputError

# prefix -> (module, factory function name); imported lazily so optional backends cost nothing.
_FACTORIES: dict[str, tuple[str, str] | Callable[..., Critic]] = {}
_ALIASES = {"exact": "scene", "shapes": "scene"}


def register(prefix: str, factory: Callable[..., Critic] | tuple[str, str]) -> None:
    """Make ``prefix[:arg]`` specs build critics with ``factory(arg, **options)``."""
    _FACTORIES[prefix] = factory


def known_prefixes() -> list[str]:
    return sorted(_FACTORIES)


def make_critic(spec: str, **options: Any) -> Critic:
    """Build the critic a spec names. Raises InputError listing the known kinds."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"empty critic spec; use one of: {', '.join(_examples())}")
    prefix, _, arg = spec.strip().partition(":")
    prefix = _ALIASES.get(prefix, prefix)
    factory = _FACTORIES.get(prefix)
    if factory is None:
        raise InputError(f"unknown critic spec {spec!r}; use one of: {', '.join(_examples())}")
    if isinstance(factory, tuple):
        module, name = factory
        factory = getattr(importlib.import_module(module), name)
    return factory(arg, **options)


def _examples() -> list[str]:
    examples = {"scene": "scene", "scripted": "scripted:PATH.json", "openai": "openai:MODEL",
                "clip": "clip:PATH", "noisy": "noisy:RATE[:SPEC]"}
    return [examples.get(p, f"{p}:...") for p in known_prefixes()]


def _scene(arg: str, **_: Any) -> Critic:
    from agent.critics.scene import SceneCritic

    if arg:
        raise InputError(f"the scene critic takes no argument, got 'scene:{arg}'")
    return SceneCritic()


def _scripted(arg: str, **_: Any) -> Critic:
    from agent.critics.scripted import ScriptedCritic

    if not arg:
        return ScriptedCritic()
    if arg in ("first", "last"):
        return ScriptedCritic({"prefer": arg, "then": "delegate"}, name=f"scripted:{arg}")
    return ScriptedCritic.from_file(arg)


register("scene", _scene)
register("scripted", _scripted)
register("openai", ("agent.critics.openai_critic", "make_openai_critic"))
register("clip", ("agent.critics.clip_scorer", "make_clip_critic"))
register("noisy", ("agent.critics.noisy", "make_noisy_critic"))
