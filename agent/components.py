"""Build what a run needs from its spec: the engine (loaded once per process and model), the critic
and the rewriter. Every surface gets them here, so a spec means the same run everywhere."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent.critics.base import Critic
from agent.critics.registry import make_critic
from agent.rewriters.base import Rewriter
from agent.rewriters.registry import make_rewriter
from agent.spec import SHAPES_MODEL, RunSpec
from tools.errors import InputError, ModelLoadError

_ENGINES: dict[tuple, object] = {}
_ENGINES_LOCK = threading.Lock()


def shapes_model_path() -> Path:
    return Path(__file__).resolve().parent.parent / "tools" / "shapes" / "weights"


def resolve_model(model: str) -> str:
    """The path or hub id a model name stands for ('shapes' is the built-in model)."""
    if model != SHAPES_MODEL:
        return model
    path = shapes_model_path()
    if not (path / "model_index.json").is_file():
        raise ModelLoadError(f"the built-in shapes model is missing from {path}; train it with "
                             "`python -m tools.shapes.train` (see tools/shapes/MODEL_CARD.md) or pass --model")
    return str(path)


def load_engine(spec: RunSpec, *, cache: bool = True):
    """The engine for the spec's model and engine settings; loaded once per process when ``cache``."""
    from tools.engine import Engine

    e = spec.engine
    key = (resolve_model(spec.model), e.device, e.dtype, e.scheduler, e.cpu_offload, e.model_configs)
    with _ENGINES_LOCK:
        if cache and key in _ENGINES:
            return _ENGINES[key]
        engine = Engine.load(key[0], device=e.device, dtype=e.dtype, scheduler=e.scheduler,
                             cpu_offload=e.cpu_offload, config=e.model_configs)
        refuse_inpainting_checkpoint(engine, spec.model)
        if cache:
            _ENGINES[key] = engine
        return engine


def refuse_inpainting_checkpoint(engine, model: str) -> None:
    """A run needs all four tools; an inpainting checkpoint (9-channel UNet) can only inpaint."""
    if getattr(engine, "is_inpainting_checkpoint", False):
        raise InputError(f"{model} is an inpainting checkpoint: sculpt needs a text-to-image checkpoint of the "
                         "same family (it derives inpainting from it)")


def build_critic(spec: RunSpec) -> Critic:
    return critic_for(spec.critic, spec.critic_options, spec.localiser)


def critic_for(critic: str, options: dict[str, Any], localiser: str | None = None) -> Critic:
    """The critic a spec names, with a localiser when one is named (it supplies the regions and
    the located objects the critic does not give)."""
    built = make_critic(critic, **options)
    if localiser:
        from agent.critics.localised import with_localiser

        built = with_localiser(built, localiser)
    return built


def build_rewriter(spec: RunSpec) -> Rewriter:
    return make_rewriter(spec.rewriter_spec(), **spec.rewriter_options())


def build_components(spec: RunSpec, *, engine=None, critic: Critic | None = None):
    """(engine, critic, rewriter) for a spec; given ones are used as they are. The critic and
    rewriter come first: a bad spec fails before a model loads."""
    critic = critic or build_critic(spec)
    rewriter = build_rewriter(spec)
    if engine is None:
        return load_engine(spec), critic, rewriter
    refuse_inpainting_checkpoint(engine, spec.model)  # an engine handed in is checked as a loaded one is
    return engine, critic, rewriter
