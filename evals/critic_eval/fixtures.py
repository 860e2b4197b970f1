"""Small datasets in every supported format, drawn in the shapes world, with known labels.

The "preferred" image is a correct rendering of a shapes brief; a rejected image renders the brief
with one or two of its objects recoloured or reshaped; a human tie is two correct renderings (or,
for GenAI-Bench's both-bad vote, two renderings of the same wrong brief). Every label is checked
against the exact ``scene`` critic while generating, so that critic agrees with the "people" on
every pair: a smoke run should show it at 1.0 and a first-image-biased critic at a flip rate of 1.

    python -m evals.critic_eval.fixtures --format pickapic --out /tmp/fixtures
    sculpt eval-critic --format pickapic --dataset /tmp/fixtures/pickapic --critic scene
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from agent.critics.scene import SceneCritic
from tools.errors import BriefError, LayoutError
from tools.shapes.brief import Brief
from tools.shapes.render import render
from tools.shapes.sample import random_brief
from tools.shapes.vocab import COLOURS, SHAPES

FORMATS = ("pickapic", "hpdv2", "imagereward", "genai-bench", "mjbench", "picks")


@dataclass
class Scene:
    """One prompt: two correct renderings, two worsening corruptions, two renderings of one wrong brief."""

    prompt: str
    good: bytes
    good2: bytes
    bad1: bytes
    bad2: bytes
    bad1b: bytes


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _corrupt(brief: Brief, rng: np.random.Generator, times: int) -> Brief:
    groups = list(brief.groups)
    for k in range(times):
        i = (int(rng.integers(len(groups))) + k) % len(groups)
        g = groups[i]
        used = {h.colour for h in groups} | {brief.background}
        colours = [c for c in COLOURS if c not in used]
        if k % 2 == 0 and colours:
            groups[i] = g.model_copy(update={"colour": str(rng.choice(colours))})
        else:
            groups[i] = g.model_copy(update={"shape": str(rng.choice([s for s in SHAPES if s != g.shape]))})
    return Brief(groups=groups, links=list(brief.links), background=brief.background)


def make_scene(rng: np.random.Generator, critic: SceneCritic, size: int = 64, tries: int = 200) -> Scene:
    """A prompt whose images the exact critic scores good == good2 > bad1 == bad1b > bad2."""
    for _ in range(tries):
        brief = random_brief(rng, int(rng.integers(1, 3)))
        text = brief.text()
        try:
            bad1_brief, bad2_brief = _corrupt(brief, rng, 1), _corrupt(brief, rng, 2)
            images = [render(b, rng, size)[0] for b in (brief, brief, bad1_brief, bad2_brief, bad1_brief)]
        except (LayoutError, BriefError, ValueError):
            continue
        checklist = critic.plan(text).checklist
        s = [critic.critique(im, text, checklist).score for im in images]
        if s[0] == s[1] == 1.0 and s[0] > s[2] > s[3] and s[2] == s[4]:
            return Scene(text, *(png(im) for im in images[:2]), png(images[2]), png(images[3]), png(images[4]))
    raise RuntimeError("could not draw a fixture scene")  # pragma: no cover


@functools.lru_cache(maxsize=8)
def scenes(n: int, seed: int, size: int = 64) -> tuple[Scene, ...]:
    """The same scenes for every format of one seed, drawn once per process."""
    rng = np.random.default_rng(seed)
    critic = SceneCritic()
    return tuple(make_scene(rng, critic, size) for _ in range(n))


def _hf_image(data: bytes, name: str) -> dict:
    return {"bytes": data, "path": name}


def write_fixture(fmt: str, out: str | Path, *, prompts: int = 6, seed: int = 0) -> Path:
    """Write a small dataset of ``fmt`` under ``out/<fmt>``; returns the path for ``--dataset``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown fixture format {fmt!r}; use one of {', '.join(FORMATS)}")
    root = Path(out) / fmt
    root.mkdir(parents=True, exist_ok=True)
    coin = random.Random(seed)
    return _WRITERS[fmt](root, scenes(prompts, seed), coin)


def _pickapic(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for k, s in enumerate(items):
        first = coin.random() < 0.5  # which side the preferred image is stored on
        jpg_0, jpg_1 = (s.good, s.bad1) if first else (s.bad1, s.good)
        rows.append({"caption": s.prompt, "jpg_0": jpg_0, "jpg_1": jpg_1, "label_0": 1.0 if first else 0.0,
                     "label_1": 0.0 if first else 1.0, "has_label": True})
        if k % 3 == 0:  # a human tie: two correct renderings
            rows.append({"caption": s.prompt, "jpg_0": s.good, "jpg_1": s.good2, "label_0": 0.5, "label_1": 0.5,
                         "has_label": True})
        if k % 3 == 1:  # an unjudged row, which loaders must skip
            rows.append({"caption": s.prompt, "jpg_0": s.bad2, "jpg_1": s.good, "label_0": 0.0, "label_1": 0.0,
                         "has_label": False})
    path = root / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=8)
    return path


def _ranked_members(k: int, s: Scene) -> list[tuple[bytes, int]]:
    """Images of one prompt with their rank (1 is best); every third prompt has a tie at the top."""
    if k % 3 == 0:
        return [(s.good, 1), (s.good2, 1), (s.bad1, 2), (s.bad2, 3)]
    return [(s.good, 1), (s.bad1, 2), (s.bad2, 3)]


def _hpdv2(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    (root / "test").mkdir(exist_ok=True)
    records = []
    for k, s in enumerate(items):
        members = _ranked_members(k, s)
        coin.shuffle(members)
        names = []
        for j, (data, _) in enumerate(members):
            names.append(f"{k:05d}_{j}.png")
            (root / "test" / names[-1]).write_bytes(data)
        ranks = [r for _, r in members]
        # Four annotators rank without ties. Tied images get adjacent ranks, in one order for two
        # annotators and the other order for the other two, so their average stays tied; the third
        # annotator swaps the two worst images, so the average keeps the published order.
        raw = []
        for a in range(4):
            order = sorted(range(len(ranks)), key=lambda i: (ranks[i], i if a in (0, 2) else -i))
            personal = [0] * len(ranks)
            for pos, i in enumerate(order):
                personal[i] = pos + 1
            if a == 2:
                worst = sorted(range(len(ranks)), key=lambda i: personal[i])[-2:]
                personal[worst[0]], personal[worst[1]] = personal[worst[1]], personal[worst[0]]
            raw.append({"rank": personal, "user_hash": f"annotator{a}"})
        avg = [sum(r["rank"][i] for r in raw) / len(raw) for i in range(len(ranks))]
        records.append({"prompt": s.prompt, "image_path": names, "rank": avg, "raw_annotations": raw})
    path = root / "test.json"
    path.write_text(json.dumps(records, indent=1))
    return path


def _imagereward(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    folder = root / "images" / "test" / "test_1"
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for k, s in enumerate(items):
        members = _ranked_members(k, s)
        coin.shuffle(members)
        for data, rank in members:
            name = hashlib.sha256(data).hexdigest()[:16] + ".png"
            (folder / name).write_bytes(data)
            records.append({"image_path": f"images/test/test_1/{name}", "prompt_id": f"{k:06d}-0000",
                            "prompt": s.prompt, "classification": "Shapes", "image_amount_in_total": len(members),
                            "rank": rank, "overall_rating": 8 - 2 * rank,
                            "image_text_alignment_rating": 8 - 2 * rank, "fidelity_rating": 6})
    path = root / "metadata-test.json"
    path.write_text(json.dumps(records, indent=1))
    return path


def _genai_bench(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for k, s in enumerate(items):
        kind = ("leftvote", "rightvote", "tievote", "bothbad_vote")[k % 4]
        left, right = {"leftvote": (s.good, s.bad1), "rightvote": (s.bad2, s.good),
                       "tievote": (s.good, s.good2), "bothbad_vote": (s.bad1, s.bad1b)}[kind]
        rows.append({"prompt": s.prompt, "left_model": "shapes-left", "left_image": _hf_image(left, f"{k}_l.png"),
                     "right_model": "shapes-right", "right_image": _hf_image(right, f"{k}_r.png"),
                     "vote_type": kind, "tstamp": 1700000000.0 + k})
    (root / "test").mkdir(exist_ok=True)
    path = root / "test" / "0000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return root


def _mjbench(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"caption": s.prompt, "image0": _hf_image(s.good, f"{k}_0.png"),
             "image1": _hf_image(s.bad1 if k % 2 else s.bad2, f"{k}_1.png"), "label": 0,
             "category": "Alignment", "subcategory": "Attribute", "model": "shapes"} for k, s in enumerate(items)]
    path = root / "mjbench.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _picks(root: Path, items: tuple[Scene, ...], coin: random.Random) -> Path:
    (root / "images").mkdir(exist_ok=True)

    def save(data: bytes) -> str:
        name = f"images/{hashlib.sha256(data).hexdigest()[:16]}.png"
        (root / name).write_bytes(data)
        return name

    lines = []
    for k, s in enumerate(items):
        chosen = save(s.good)
        rejected = [save(s.bad1)] + ([save(s.bad2)] if k % 2 == 0 else [])
        lines.append({"time": f"2025-01-{k % 28 + 1:02d}T12:00:00+00:00", "run_id": f"run{k // 2}",
                      "brief": s.prompt, "chosen": chosen, "rejected": rejected, "critic": "scene",
                      "critic_preference": chosen,
                      "node_ids": {"chosen": f"n{3 * k + 1}",
                                   "rejected": [f"n{3 * k + 2 + j}" for j in range(len(rejected))]}})
    path = root / "picks.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


_WRITERS = {"pickapic": _pickapic, "hpdv2": _hpdv2, "imagereward": _imagereward, "genai-bench": _genai_bench,
            "mjbench": _mjbench, "picks": _picks}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.critic_eval.fixtures",
                                     description="Write small shapes-world datasets in the formats sculpt "
                                                 "eval-critic reads, for tests and smoke runs.")
    parser.add_argument("--format", default="all", choices=("all",) + FORMATS)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--prompts", type=int, default=6, help="prompts per dataset (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for fmt in FORMATS if args.format == "all" else (args.format,):
        path = write_fixture(fmt, args.out, prompts=args.prompts, seed=args.seed)
        print(f"sculpt eval-critic --format {fmt} --dataset {path} --critic scene --critic scripted:first "
              f"--out {args.out / (fmt + '-report')}")


if __name__ == "__main__":
    main()
