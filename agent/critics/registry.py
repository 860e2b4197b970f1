"""Build critics from spec strings: ``scene``, ``scripted:PATH``, ``openai:MODEL``, ``clip:PATH``,
``hf:PATH_OR_ID``, ``noisy:RATE[:SPEC]``.

Built-in critics register themselves exactly as any other would, through :func:`register`. A
short name can stand for a whole spec (:func:`alias`): ``exact`` and ``shapes`` are ``scene``, and
a model shipped with sculpt is an alias of ``hf:<its folder>``, loaded like any hub model.

Options (``--critic-option KEY=VALUE``, ``critic_options`` in sculpt.toml and the run spec) go to
the factory, which rejects a key it does not know with :func:`check_options`.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ValidationError

from agent.critics.base import Critic
from tools.errors import InputError

# prefix -> (module, factory function name); imported lazily so optional backends cost nothing.
_FACTORIES: dict[str, tuple[str, str] | Callable[..., Critic]] = {}
# short name -> the spec it stands for
_ALIASES: dict[str, str] = {}
# Options every critic accepts: the server of openai: critics (``--critic-base-url``), which a
# config file may set for the LLM rewriter too; critics without a server ignore it.
SHARED_OPTIONS = frozenset({"base_url"})


def register(prefix: str, factory: Callable[..., Critic] | tuple[str, str]) -> None:
    """Make ``prefix[:arg]`` specs build critics with ``factory(arg, **options)``."""
    _FACTORIES[prefix] = factory


def alias(name: str, spec: str) -> None:
    """Make ``name`` stand for ``spec`` (e.g. a shipped model: ``alias("shapes-vlm", "hf:/path")``)."""
    if ":" in name:
        raise ValueError(f"an alias is a bare name, got {name!r}")
    _ALIASES[name] = spec


def known_prefixes() -> list[str]:
    return sorted(_FACTORIES)


def resolve_alias(spec: str) -> str:
    """The spec a short name stands for (an alias given an argument passes it on: ``exact:x``)."""
    name, sep, arg = spec.strip().partition(":")
    target = _ALIASES.get(name)
    if target is None:
        return spec.strip()
    if sep and ":" in target:
        raise InputError(f"{name!r} stands for {target!r} and takes no argument, got {spec!r}")
    return f"{target}{sep}{arg}"


def check_options(critic: str, options: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """``options`` without the shared ones, or an InputError naming the unknown keys and the known ones."""
    known = sorted(set(known))
    unknown = sorted(k for k in options if k not in known and k not in SHARED_OPTIONS)
    if unknown:
        listed = f"its options: {', '.join(known)}" if known else "it takes no options"
        raise InputError(f"unknown option(s) {unknown} for the {critic} critic; {listed}")
    return {k: v for k, v in options.items() if k in known}


def read_options(critic: str, model: type[BaseModel], options: dict[str, Any]) -> Any:
    """``options`` as the critic's typed options (text from flags is read as the field's type): an
    unknown key or a bad value is an InputError naming it."""
    values = check_options(critic, options, model.model_fields)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(map(str, first["loc"])) or "options"
        raise InputError(f"the {critic} critic's option {key}={first.get('input')!r}: "
                         f"{first['msg'].removeprefix('Value error, ')}") from None


def make_critic(spec: str, **options: Any) -> Critic:
    """Build the critic a spec names. Raises InputError listing the known kinds."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"empty critic spec; use one of: {', '.join(_examples())}")
    prefix, _, arg = resolve_alias(spec).partition(":")
    factory = _FACTORIES.get(prefix)
    if factory is None:
        raise InputError(f"unknown critic spec {spec!r}; use one of: {', '.join(_examples())}")
    if isinstance(factory, tuple):
        module, name = factory
        factory = getattr(importlib.import_module(module), name)
    return factory(arg, **options)


def _examples() -> list[str]:
    examples = {"scene": "scene", "scripted": "scripted:PATH.json", "openai": "openai:MODEL",
                "clip": "clip:PATH", "noisy": "noisy:RATE[:SPEC]", "hf": "hf:PATH_OR_ID"}
    return [examples.get(p, f"{p}:...") for p in known_prefixes()]


def _scene(arg: str, **options: Any) -> Critic:
    from agent.critics.scene import SceneCritic

    check_options("scene", options, ())
    if arg:
        raise InputError(f"the scene critic takes no argument, got 'scene:{arg}'")
    return SceneCritic()


def _scripted(arg: str, **options: Any) -> Critic:
    from agent.critics.scripted import ScriptedCritic

    check_options("scripted", options, ())
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
register("hf", ("agent.critics.hf_critic", "make_hf_critic"))
alias("exact", "scene")
alias("shapes", "scene")
# The shapes world's own learned critic, trained by tools/shapes/train_vlm.py and shipped beside the
# diffusion model: loaded like any hub VLM (VQAScore, and its <loc> tokens for where things are).
alias("shapes-vlm", "hf:" + str(Path(__file__).resolve().parents[2] / "tools" / "shapes" / "vlm_weights"))
