"""MJ-Bench (MJ-Bench/MJ-Bench): pairs where one image follows the caption and one violates it.

Columns used: ``caption``, ``image0``, ``image1`` and ``label`` (the index of the preferred image;
0 in every published row: the preferred image is always stored first). Stored that way, a critic
that always picks the first image would look perfect in any single-order harness, so each pair's
presentation is shuffled with a seeded coin per row (the same seed gives the same order).
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Iterator

from evals.critic_eval.loaders.common import dataset_files, image_cell, read_records
from evals.critic_eval.pairs import A, B, Pair, swap

COLUMNS = ("caption", "image0", "image1", "label")


def load(path: Path, *, split: str | None, image_root: Path | None, seed: int,
         stats: Counter) -> Iterator[Pair]:
    for file in dataset_files(path, split):
        for rec in read_records(file, COLUMNS, optional=("category", "subcategory")):
            label = rec.require("label")
            if isinstance(label, bool) or label not in (0, 1):
                raise rec.error(f"label must be 0 (image0 preferred) or 1 (image1 preferred), got {label!r}")
            caption = rec.text("caption")
            meta = {k: rec.fields[k] for k in ("category", "subcategory") if rec.fields.get(k)}
            pair = Pair(prompt=caption, a=image_cell(rec, "image0", image_root),
                        b=image_cell(rec, "image1", image_root), human=A if label == 0 else B,
                        group=caption, source=f"{file.name} {rec.where}", meta=meta)
            if presentation_swapped(seed, file.name, rec.where):
                pair = swap(pair)
                stats["presented swapped"] += 1
            yield pair


def presentation_swapped(seed: int, file_name: str, where: str) -> bool:
    """A fair coin per row, fixed by the seed and the row, independent of --limit or order of reading."""
    return random.Random(f"{seed}:{file_name}:{where}").random() < 0.5
