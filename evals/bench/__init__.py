"""ShapesBench: sculpt's agent against compute-matched baselines on seeded shapes-world briefs.

Methods (single, best-of-n, loopback, prompt-only, agent) get one engine, one budget of images and
the same seeds; every answer is judged by the exact shapes critic. Entry points: :func:`run_bench`,
:func:`run_sweep` (the benchmark at several critic error rates) and ``sculpt bench``.
"""
from __future__ import annotations

import importlib
from typing import Any

# Exported names and their modules, imported on first use: mounting the CLI command must not cost
# every ``sculpt`` invocation the engine, graph and plotting imports.
_EXPORTS = {
    "BenchError": "errors", "BenchStopped": "errors", "BudgetExceeded": "errors",
    "CountingEngine": "counting", "BenchConfig": "runner", "BenchResult": "runner", "run_bench": "runner",
    "make_briefs": "runner", "METHOD_NAMES": "methods", "LoopbackOptions": "methods",
    "SweepConfig": "sweep", "SweepResult": "sweep", "run_sweep": "sweep",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
