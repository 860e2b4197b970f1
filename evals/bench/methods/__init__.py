"""The benchmark's methods: the agent and its compute-matched baselines.

Each method is one function ``run(trial) -> Outcome``. The built-in ones live in their own
modules, imported on first use so that mounting the CLI command costs nothing, and are registered
exactly as any other method would be, through :func:`register`.
"""
from __future__ import annotations

import importlib
from typing import Callable

from evals.bench.methods.common import LoopbackOptions, Outcome, Shot, Trial

RunMethod = Callable[[Trial], Outcome]

# name -> ("module:function" or the function itself, one line for reports); the order of
# registration is the order of every table.
_METHODS: dict[str, tuple[str | RunMethod, str]] = {}


def register(name: str, run: str | RunMethod, description: str) -> None:
    """Make ``name`` a method; ``run`` is a function or "module:function" imported on first use."""
    _METHODS[name] = (run, description)


def known_methods() -> tuple[str, ...]:
    return tuple(_METHODS)


def describe(name: str) -> str:
    return _METHODS[name][1]


def get_method(name: str) -> RunMethod:
    run = _METHODS[name][0]
    if isinstance(run, str):
        module, function = run.split(":")
        run = getattr(importlib.import_module(module), function)
    return run


register("single", "evals.bench.methods.single:run_single", "one txt2img with the brief's seed")
register("best-of-n", "evals.bench.methods.best_of_n:run_best_of_n",
         "B txt2img samples (seeds s..s+B-1); the driving critic's best score wins")
register("loopback", "evals.bench.methods.loopback:run_loopback",
         "A1111 loopback: txt2img, then B-1 img2img passes from the previous image, no critic")
register("prompt-only", "evals.bench.methods.prompt_only:run_prompt_only",
         "Idea2Img-style: critique, rewrite the prompt, new txt2img; the best by the critic")
register("agent", "evals.bench.methods.agent:run_agent",
         "sculpt's agent: the full graph with the same engine and budget")

METHOD_NAMES: tuple[str, ...] = known_methods()  # the built-in methods, run by default

__all__ = ["METHOD_NAMES", "LoopbackOptions", "Outcome", "Shot", "Trial", "describe", "get_method",
           "known_methods", "register"]
