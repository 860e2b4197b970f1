"""Ranked datasets: several images per prompt, ranked by people. Every pair within a prompt becomes
one comparison; equal ranks are a human tie. A lower rank is better (1 is the best image).

**HPD v2** (ymhao/HPDv2, ``test.json`` and the images of ``test.tar.gz``): a JSON list of
``{"prompt", "image_path": [...], "rank": [...], "raw_annotations": [{"rank": [...], "user_hash"}]}``.
``rank`` is the annotators' average and is the human label; ``raw_annotations`` give each
annotator's own ranking, kept for the leave-one-annotator-out human ceiling. Image paths are
relative to ``--image-root`` (default: the folder named like the JSON file, ``test/``, when it
exists, else the JSON file's folder).

**ImageRewardDB** (THUDM/ImageRewardDB): the published metadata layout, one record per image:
``{"prompt_id", "prompt", "rank", "image_path"}`` (``metadata-test.parquet``, or the per-folder
JSON files, or the same fields as JSONL); parquet shards with an ``image`` column (a Hugging Face
image struct) are read from the bytes instead. Records of one prompt must be consecutive, as
published. A record may also hold a whole group: ``image_path`` and ``rank`` as lists. Image paths
are relative to ``--image-root`` (default: the metadata file's folder, the dataset root).
"""
from __future__ import annotations

from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any, Iterator

from evals.critic_eval.loaders.common import (Record, as_float, dataset_files, image_cell, image_path,
                                              read_records)
from evals.critic_eval.pairs import A, B, TIE, ImageRef, Pair


def label_from_ranks(rank_a: float, rank_b: float) -> str:
    return A if rank_a < rank_b else B if rank_a > rank_b else TIE


def ranked_pairs(prompt: str, group: str, images: list[ImageRef], ranks: list[float], source: str,
                 annotator_ranks: list[list[float]] = ()) -> Iterator[Pair]:
    """All n(n-1)/2 pairs of a ranked group; margins are each annotator's rank(b) - rank(a)."""
    for i, j in combinations(range(len(images)), 2):
        yield Pair(prompt=prompt, a=images[i], b=images[j], human=label_from_ranks(ranks[i], ranks[j]),
                   group=group, source=f"{source} images {i},{j}",
                   margins=tuple(r[j] - r[i] for r in annotator_ranks))


def _number_list(rec: Record, name: str, value: Any, length: int) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise rec.error(f"field {name!r} must be a list of {length} numbers (one per image), got {value!r:.80}")
    return [as_float(rec, name, v) for v in value]


def load_hpd(path: Path, *, split: str | None, image_root: Path | None, seed: int,
             stats: Counter) -> Iterator[Pair]:
    for file in dataset_files(path, split, (".json", ".jsonl")):
        root = image_root or (file.parent / file.stem if (file.parent / file.stem).is_dir() else file.parent)
        for rec in read_records(file, ()):
            prompt = rec.text("prompt")
            paths = rec.require("image_path")
            if not isinstance(paths, list) or len(paths) < 2 or not all(isinstance(p, str) for p in paths):
                raise rec.error("field 'image_path' must be a list of at least two image paths")
            ranks = _number_list(rec, "rank", rec.require("rank"), len(paths))
            raw = rec.fields.get("raw_annotations") or []
            if not isinstance(raw, list):
                raise rec.error("field 'raw_annotations' must be a list of {'rank': [...], 'user_hash': ...}")
            annotators = []
            for k, ann in enumerate(raw):
                value = ann.get("rank") if isinstance(ann, dict) else ann
                annotators.append(_number_list(rec, f"raw_annotations[{k}].rank", value, len(paths)))
            stats["annotated prompts" if len(annotators) >= 2 else "prompts without 2+ annotators"] += 1
            images = [ImageRef(path=image_path(rec, p, root), source=f"{file}, {rec.where}") for p in paths]
            yield from ranked_pairs(prompt, prompt, images, ranks, f"{file.name} {rec.where}", annotators)


def load_imagereward(path: Path, *, split: str | None, image_root: Path | None, seed: int,
                     stats: Counter) -> Iterator[Pair]:
    for file in dataset_files(path, split):
        root = image_root or file.parent
        current: str | None = None
        members: list[tuple[Record, ImageRef, float]] = []
        finished: set[str] = set()
        for rec in read_records(file, ("prompt_id", "prompt", "rank"), optional=("image", "image_path")):
            pid = str(rec.require("prompt_id"))
            if isinstance(rec.fields.get("image_path"), list):  # one record holds the whole group
                paths = rec.fields["image_path"]
                ranks = _number_list(rec, "rank", rec.require("rank"), len(paths))
                images = [ImageRef(path=image_path(rec, p, root), source=f"{file}, {rec.where}") for p in paths]
                yield from _group(rec.text("prompt"), pid, images, ranks, f"{file.name} {rec.where}", stats)
                continue
            if pid != current:
                yield from _flush(members, stats)
                if pid in finished:
                    raise rec.error(f"prompt_id {pid!r} appears again after other prompts; the records of "
                                    "one prompt must be consecutive (sort the file by prompt_id)")
                if current is not None:
                    finished.add(current)
                current, members = pid, []
            column = "image" if rec.fields.get("image") is not None else "image_path"
            members.append((rec, image_cell(rec, column, root), as_float(rec, "rank", rec.require("rank"))))
        yield from _flush(members, stats)


def _flush(members: list[tuple[Record, ImageRef, float]], stats: Counter) -> Iterator[Pair]:
    if not members:
        return
    first = members[0][0]
    prompt = first.text("prompt")
    yield from _group(prompt, str(first.fields["prompt_id"]), [m[1] for m in members], [m[2] for m in members],
                      f"{first.file.name} {first.where}", stats)


def _group(prompt: str, pid: str, images: list[ImageRef], ranks: list[float], source: str,
           stats: Counter) -> Iterator[Pair]:
    if len(images) < 2:
        stats["skipped: prompts with one image"] += 1
        return
    stats["prompts"] += 1
    yield from ranked_pairs(prompt, pid, images, ranks, source)
