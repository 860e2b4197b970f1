"""The benchmark's methods: the agent and its compute-matched baselines.

Each method is one function ``run(trial) -> MethodResult``. The built-in ones live in their own
modules, imported on first use so that mounting the CLI command costs nothing, and are registered
exactly as any other method would be, through :func:`register`.
"""
from __future__ import annotations

import importlib
from typing import Callable

from evals.bench.methods.common import LoopbackOptions, MethodResult, Shot, Trial

RunMethod = Callable[[Trial], MethodResult]

# name -> ("module:function" or the function itself, one line for reports, the settings it reads);
# the order of registration is the order of every table.
_METHODS: dict[str, tuple[str | RunMethod, str, frozenset[str]]] = {}

# Settings only some methods read. A method's results depend on the rest of the settings and on
# those it names here, so results of a method that uses no critic stay valid under another critic
# (a noise sweep reuses them) while those of every critic-driven method never mix.
OPTIONAL_SETTINGS = frozenset({"critic", "loopback", "agent_policy"})


def register(name: str, run: str | RunMethod, description: str,
             uses: frozenset[str] | set[str] = OPTIONAL_SETTINGS) -> None:
    """Make ``name`` a method; ``run`` is a function or "module:function" imported on first use;
    ``uses``: which of :data:`OPTIONAL_SETTINGS` it reads (by default all, the safe answer)."""
    unknown = set(uses) - OPTIONAL_SETTINGS
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; methods may use {sorted(OPTIONAL_SETTINGS)}")
    _METHODS[name] = (run, description, frozenset(uses))


def known_methods() -> tuple[str, ...]:
    return tuple(_METHODS)


def describe(name: str) -> str:
    return _METHODS[name][1]


def uses(name: str) -> frozenset[str]:
    """Which of :data:`OPTIONAL_SETTINGS` method ``name`` reads."""
    return _METHODS[name][2]


def get_method(name: str) -> RunMethod:
    run = _METHODS[name][0]
    if isinstance(run, str):
        module, function = run.split(":")
        run = getattr(importlib.import_module(module), function)
    return run


register("single", "evals.bench.methods.single:run_single", "one txt2img with the brief's seed", uses=set())
register("best-of-n", "evals.bench.methods.best_of_n:run_best_of_n",
         "B txt2img samples (seeds s..s+B-1); the driving critic's best score wins", uses={"critic"})
register("loopback", "evals.bench.methods.loopback:run_loopback",
         "A1111 loopback: txt2img, then B-1 img2img passes from the previous image, no critic", uses={"loopback"})
register("prompt-only", "evals.bench.methods.prompt_only:run_prompt_only",
         "Idea2Img-style: critique, rewrite the prompt, new txt2img; the best by the critic", uses={"critic"})
register("agent", "evals.bench.methods.agent:run_agent",
         "sculpt's agent: the full graph with the same engine and budget", uses={"critic", "agent_policy"})

METHOD_NAMES: tuple[str, ...] = known_methods()  # the built-in methods, run by default

__all__ = ["METHOD_NAMES", "OPTIONAL_SETTINGS", "LoopbackOptions", "MethodResult", "Shot", "Trial", "describe",
           "get_method", "known_methods", "register", "uses"]
