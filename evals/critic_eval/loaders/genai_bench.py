"""GenAI-Bench (TIGER-Lab/GenAI-Bench, ``image_generation`` subset): arena votes between two models.

Columns used: ``prompt``, ``left_image``, ``right_image`` (Hugging Face image structs, bytes or
paths) and ``vote_type``. ``leftvote``/``rightvote`` prefer one side; ``tievote`` and
``bothbad_vote`` are both human ties (neither image was preferred), as in GenAI-Bench's own
three-way accuracy; the load statistics count the two kinds separately.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from evals.critic_eval.loaders.common import dataset_files, image_cell, read_records
from evals.critic_eval.pairs import A, B, TIE, Pair

COLUMNS = ("prompt", "left_image", "right_image", "vote_type")
VOTES = {"leftvote": A, "rightvote": B, "tievote": TIE, "bothbad_vote": TIE}


def load(path: Path, *, split: str | None, image_root: Path | None, seed: int,
         stats: Counter) -> Iterator[Pair]:
    for file in dataset_files(path, split):
        for rec in read_records(file, COLUMNS, optional=("left_model", "right_model")):
            vote = rec.require("vote_type")
            if vote not in VOTES:
                raise rec.error(f"vote_type {vote!r} is not one of {', '.join(VOTES)}")
            stats[f"votes: {vote}"] += 1
            prompt = rec.text("prompt")
            yield Pair(prompt=prompt, a=image_cell(rec, "left_image", image_root),
                       b=image_cell(rec, "right_image", image_root), human=VOTES[vote], group=prompt,
                       source=f"{file.name} {rec.where}", meta={"vote": vote})
