"""sculpt's own preference records: ``picks.jsonl``, written by ``sculpt chat`` when a person picks.

One JSON object per line::

    {"time": "2025-01-31T12:00:00+00:00", "run_id": "r1", "brief": "a red circle",
     "chosen": "images/<hash>.png", "rejected": ["images/<hash>.png", ...],
     "critic": "scene", "critic_preference": "images/<hash>.png" | null,
     "node_ids": {"chosen": "n3", "rejected": ["n4"]}}

Image paths are relative to the folder holding picks.jsonl (or to ``--image-root``). A folder given
as the dataset is searched for every ``picks.jsonl`` under it (all runs). A record with
k rejected images gives k pairs. The chosen image is always recorded first, so, as for MJ-Bench,
each pair's presentation is shuffled with a seeded coin.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from evals.critic_eval.errors import DatasetError
from evals.critic_eval.loaders.common import dataset_files, image_path, read_records
from evals.critic_eval.loaders.mjbench import presentation_swapped
from evals.critic_eval.pairs import A, ImageRef, Pair, swap

FIELDS = ("brief", "chosen", "rejected")


def load(path: Path, *, split: str | None, image_root: Path | None, seed: int,
         stats: Counter) -> Iterator[Pair]:
    files = dataset_files(path, split, (".jsonl",))
    if path.is_dir():  # a runs folder: every run's picks.jsonl, not its events.jsonl
        files = [f for f in files if f.name == "picks.jsonl"]
        if not files:
            raise DatasetError(path, "holds no picks.jsonl; pass the file or a folder of runs that have one")
    for file in files:
        root = image_root or file.parent
        for rec in read_records(file, ()):
            brief = rec.text("brief")
            chosen = rec.text("chosen")
            rejected = rec.require("rejected")
            if not isinstance(rejected, list) or not rejected or not all(isinstance(r, str) for r in rejected):
                raise rec.error("field 'rejected' must be a non-empty list of image paths")
            if chosen in rejected:
                raise rec.error(f"the chosen image {chosen!r} is also listed as rejected")
            source = f"{file}, {rec.where}"
            winner = ImageRef(path=image_path(rec, chosen, root), source=source)
            for k, rel in enumerate(rejected):
                loser = ImageRef(path=image_path(rec, rel, root), source=source)
                where = f"{rec.where} rejected[{k}]"
                pair = Pair(prompt=brief, a=winner, b=loser, human=A, group=brief,
                            source=f"{file.name} {where}",
                            meta={"run_id": rec.fields.get("run_id"), "critic": rec.fields.get("critic")})
                if presentation_swapped(seed, file.name, where):
                    pair = swap(pair)
                    stats["presented swapped"] += 1
                yield pair
