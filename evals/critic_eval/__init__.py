"""Critic-vs-human agreement: how often a critic picks the image people picked.

Pairs stream from public preference datasets (Pick-a-Pic, HPD v2, ImageRewardDB, GenAI-Bench,
MJ-Bench) or sculpt's own ``picks.jsonl``; every pair is judged in both presentation orders; the
report gives three accuracies with prompt-level bootstrap intervals, position bias, failures,
latency and cost per critic. Entry points: :func:`evaluate` and ``sculpt eval-critic``.
"""
from __future__ import annotations

import importlib
from typing import Any

# Exported names and their modules, imported on first use: mounting the CLI command must not cost
# every ``sculpt`` invocation the plotting and reporting imports.
_EXPORTS = {
    "CriticEvalError": "errors", "DatasetError": "errors", "EvaluationStopped": "errors",
    "EvalConfig": "evaluation", "EvalResult": "evaluation", "evaluate": "evaluation",
    "FORMATS": "loaders", "load_pairs": "loaders", "ImageRef": "pairs", "Pair": "pairs",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
