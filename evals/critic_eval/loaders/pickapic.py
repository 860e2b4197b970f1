"""Pick-a-Pic (yuvalkirstain/pickapic_v1, pickapic_v2): parquet rows of two generations per prompt.

Columns used: ``caption``, ``jpg_0``, ``jpg_1`` (image bytes), ``label_0``, ``label_1`` and
``has_label``. ``label_0 = 1`` means the person preferred image 0, ``0.5/0.5`` is a tie; rows with
``has_label`` false were never judged and are skipped (counted in the load statistics).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from evals.critic_eval.loaders.common import as_float, dataset_files, image_cell, read_records
from evals.critic_eval.pairs import A, B, TIE, Pair

COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1", "has_label")
_LABELS = {(1.0, 0.0): A, (0.0, 1.0): B, (0.5, 0.5): TIE}


def load(path: Path, *, split: str | None, image_root: Path | None, seed: int,
         stats: Counter) -> Iterator[Pair]:
    for file in dataset_files(path, split, (".parquet", ".jsonl")):
        for rec in read_records(file, COLUMNS, optional=("ranking_id",)):
            has_label = rec.require("has_label")
            if not isinstance(has_label, bool):
                raise rec.error(f"field 'has_label' must be true or false, got {has_label!r}")
            if not has_label:
                stats["skipped: has_label false"] += 1
                continue
            labels = (as_float(rec, "label_0", rec.require("label_0")),
                      as_float(rec, "label_1", rec.require("label_1")))
            human = _LABELS.get(labels)
            if human is None:
                raise rec.error(f"labels (label_0, label_1) = {labels} are not a preference; expected "
                                "(1, 0), (0, 1) or (0.5, 0.5) for a tie")
            caption = rec.text("caption")
            yield Pair(prompt=caption, a=image_cell(rec, "jpg_0", image_root),
                       b=image_cell(rec, "jpg_1", image_root), human=human, group=caption,
                       source=f"{file.name} {rec.where}")
