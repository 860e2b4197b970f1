"""Images for the shapes critic model, cached in shards: rendered scenes and the diffusion model's own.

Every image is stored with the brief it was made for (if any) and the exact detector's reading of
it; questions are drawn from those later (tools/shapes/vlm_questions.py), so training sees new
questions every epoch. Most important are the diffusion model's images — txt2img at its shipped
settings, and the agent's edits of them (img2img, colour-guided inpaint) — because they are what
the critic judges in a run: blurred, merged and half-drawn shapes that no renderer makes.

Shards are written atomically and named by split and index, each from its own seed stream
(``[seed, split, kind, index]``), so generation resumes shard by shard and the held-out split shares
no seed with training.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tools.errors import LayoutError
from tools.files import atomic_save
from tools.shapes.brief import Brief
from tools.shapes.check import check
from tools.shapes.detect import Detection, detect
from tools.shapes.render import render
from tools.shapes.sample import BriefStyle, random_brief
from tools.shapes.vlm_questions import perturb

SPLITS = {"train": 0, "heldout": 1}
KINDS = {"render": 0, "model": 1}
DIFFICULTY_MIX = (0.25, 0.40, 0.35)
BENCHMARK_STYLE = BriefStyle(p_size=0.5, p_position=0.3, p_relation=0.7, p_count=0.3, p_background=1.0)
SHARD = 64  # txt2img images per model shard (plus its edits); renders per render shard x4


@dataclass
class Shard:
    images: np.ndarray  # (N, 64, 64, 3) uint8
    meta: list[dict]  # per image: brief (dict or None), source, detection (dict), n_objects


def shard_path(root: Path, split: str, kind: str, index: int) -> Path:
    return root / split / kind / f"shard_{index:05d}.npz"


def save_shard(path: Path, shard: Shard) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=shard.images, meta=np.frombuffer(json.dumps(shard.meta).encode(), np.uint8))
        tmp.write_bytes(buf.getvalue())

    atomic_save(path, write)


def load_shard(path: Path) -> Shard:
    with np.load(path) as d:
        return Shard(images=d["images"], meta=json.loads(d["meta"].tobytes().decode()))


def load_split(root: Path, split: str, kind: str, limit: int | None = None) -> Shard:
    paths = sorted((root / split / kind).glob("shard_*.npz"))
    shards = [load_shard(p) for p in paths]
    images = np.concatenate([s.images for s in shards]) if shards else np.zeros((0, 64, 64, 3), np.uint8)
    meta = [m for s in shards for m in s.meta]
    return Shard(images[:limit], meta[:limit]) if limit else Shard(images, meta)


def sample_brief(rng: np.random.Generator) -> Brief:
    n = int(rng.choice([1, 2, 3], p=DIFFICULTY_MIX))
    # Half the briefs as the benchmark states them (the runs the critic judges), half the sampler's mix.
    return random_brief(rng, n, style=BENCHMARK_STYLE if rng.random() < 0.5 else BriefStyle())


def _record(image: Image.Image, brief: Brief | None, source: str) -> dict:
    return {"brief": brief.model_dump() if brief else None, "source": source,
            "detection": detect(image).to_dict(), "n_objects": brief.n_objects if brief else None}


def render_shard(seed: int, split: str, index: int, n: int = 4 * SHARD) -> Shard:
    """Rendered scenes; half drawn from a perturbed brief (so the checklist fails somewhere), half
    blurred like the diffusion model's output. Labels come from the detector, exact on renders."""
    rng = np.random.default_rng([seed, SPLITS[split], KINDS["render"], index])
    images, meta = [], []
    while len(images) < n:
        brief = sample_brief(rng)
        drawn = brief
        if rng.random() < 0.5:
            drawn = perturb(brief, Detection(background=brief.background or "white", objects=()), rng)[1]
        try:
            image, _ = render(drawn, rng)
        except (LayoutError, ValueError):  # a perturbation no layout satisfies
            continue
        if rng.random() < 0.5:
            image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
        images.append(np.asarray(image, np.uint8))
        meta.append(_record(image, brief, "render"))
    return Shard(np.stack(images), meta)


def model_shard(engine, seed: int, split: str, index: int, n: int = SHARD, batch: int = 32) -> Shard:
    """txt2img at the shipped settings, then a quarter of the images edited as the agent edits."""
    import torch

    rng = np.random.default_rng([seed, SPLITS[split], KINDS["model"], index])
    briefs = [sample_brief(rng) for _ in range(n)]
    seeds = [int(s) for s in rng.integers(0, 2**31, n)]
    pipe = engine.pipeline("txt2img")
    images: list[Image.Image] = []
    for i in range(0, n, batch):
        with torch.inference_mode():
            images += pipe(prompt=[b.text() for b in briefs[i:i + batch]], num_inference_steps=engine.default_steps,
                           guidance_scale=engine.default_guidance, width=64, height=64,
                           generator=[torch.Generator().manual_seed(s) for s in seeds[i:i + batch]]).images
    meta = [_record(im, b, "txt2img") for im, b in zip(images, briefs)]
    out_images, out_meta = list(images), meta
    edit = rng.permutation(n)[: n // 4]
    for j, i in enumerate(edit):
        rec = _edit(engine, images[i], briefs[i], meta[i], rng, inpaint=j % 3 == 0)
        if rec is not None:
            out_images.append(rec[0])
            out_meta.append(rec[1])
    return Shard(np.stack([np.asarray(im, np.uint8) for im in out_images]), out_meta)


def _edit(engine, image: Image.Image, brief: Brief, meta: dict, rng: np.random.Generator,
          inpaint: bool) -> tuple[Image.Image, dict] | None:
    from tools.engine.guides import guide_from_prompt
    from tools.shapes.vlm_questions import detection_from_dict

    seed = int(rng.integers(2**31))
    if inpaint:
        # A defect the exact checker reports, repainted as the agent does (colour-guided, strength 0.5).
        det = detection_from_dict(meta["detection"])
        defects = check(brief, brief.requirements(), det).defects
        if not defects:
            return None
        d = defects[int(rng.integers(len(defects)))]
        bg = f", {brief.background} background" if brief.background else ""
        g = brief.groups[int(d.group[1:])] if d.group else None
        prompt = (f"{g.model_copy(update={'count': 1, 'position': None}).phrase()}{bg}"
                  if g is not None and d.kind != "remove" else f"{brief.background or 'white'} background")
        out = engine.inpaint(image, prompt, region=d.region, strength=0.5, seed=seed,
                             guide=guide_from_prompt(prompt, d.region)).image
        return out, _record(out, brief, "inpaint")
    # img2img: a light variation of the same brief, or a stronger push towards a changed one.
    target = brief
    if rng.random() < 0.5:
        target = perturb(brief, detection_from_dict(meta["detection"]), rng)[1]
    out = engine.img2img(image, target.text(), strength=float(rng.uniform(0.25, 0.75)), seed=seed).image
    return out, _record(out, target, "img2img")


def generate(root: Path, seed: int, split: str, kind: str, shards: int, n: int, engine=None,
             report=None) -> dict:
    """Make the missing shards of one split and kind; returns images made and seconds spent."""
    made, seconds = 0, 0.0
    for index in range(shards):
        path = shard_path(root, split, kind, index)
        if path.exists():
            continue
        t0 = time.perf_counter()
        shard = (render_shard(seed, split, index, 4 * n) if kind == "render"
                 else model_shard(engine, seed, split, index, n))
        save_shard(path, shard)
        seconds += time.perf_counter() - t0
        made += len(shard.meta)
        if report is not None:
            report(f"data {split}/{kind}: shard {index + 1}/{shards}, {made} images in {seconds:.0f} s "
                   f"({seconds / made:.3f} s/image)")
    return {"images": made, "seconds": round(seconds, 1)}


def make_data(args, root: Path, seed: int) -> None:
    """Every shard the arguments ask for; throughput is appended to data.json."""
    from tools.shapes.train_vae import log

    plan = [("heldout", "model", args.heldout_shards), ("train", "render", args.render_shards),
            ("train", "model", args.model_shards)]
    engine = None
    stats = json.loads((root / "data.json").read_text()) if (root / "data.json").exists() else []
    for split, kind, shards in plan:
        if kind == "model" and engine is None and any(
                not shard_path(root, split, kind, i).exists() for i in range(shards)):
            from agent.components import shapes_model_path
            from tools.engine import Engine

            engine = Engine.load(shapes_model_path(), device=args.device)
        r = generate(root, seed, split, kind, shards, args.shard_images, engine, report=log)
        if r["images"]:
            stats.append({"split": split, "kind": kind, **r, "threads": torch_threads()})
            root.mkdir(parents=True, exist_ok=True)
            (root / "data.json").write_text(json.dumps(stats, indent=2))
    log("data: complete")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()
