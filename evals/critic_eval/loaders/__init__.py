"""Dataset loaders: every format streams :class:`~evals.critic_eval.pairs.Pair` objects.

A loader is ``load(path, *, split, image_root, seed, stats) -> Iterator[Pair]``; ``stats`` is a
Counter the loader fills with what it skipped or noticed (reported in metrics.json).
"""
from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

from evals.critic_eval.errors import CriticEvalError
from evals.critic_eval.loaders import genai_bench, mjbench, pickapic, picks, rankings
from evals.critic_eval.pairs import Pair

Loader = Callable[..., Iterator[Pair]]

FORMATS: dict[str, Loader] = {
    "pickapic": pickapic.load,
    "hpdv2": rankings.load_hpd,
    "imagereward": rankings.load_imagereward,
    "genai-bench": genai_bench.load,
    "mjbench": mjbench.load,
    "picks": picks.load,
}
# Formats whose pairs come from rankings of several images per prompt.
RANKED = {"hpdv2", "imagereward"}


def load_pairs(path: str | Path, fmt: str, *, split: str | None = None, image_root: str | Path | None = None,
               seed: int = 0, limit: int | None = None, stats: Counter | None = None) -> Iterator[Pair]:
    """Stream the pairs of a dataset, at most ``limit`` of them. Raises DatasetError on bad input."""
    loader = FORMATS.get(fmt)
    if loader is None:
        raise CriticEvalError(f"unknown dataset format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise CriticEvalError(f"--limit must be at least 1, got {limit}")
    root = Path(image_root).expanduser() if image_root else None
    if root is not None and not root.is_dir():
        raise CriticEvalError(f"--image-root {root} is not a folder")
    pairs = loader(Path(path).expanduser(), split=split, image_root=root, seed=seed,
                   stats=stats if stats is not None else Counter())
    return itertools.islice(pairs, limit) if limit else pairs


__all__ = ["FORMATS", "RANKED", "load_pairs"]
