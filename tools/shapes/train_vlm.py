"""Train the shapes critic model: a small PaliGemma that answers checklist questions and gives boxes.

    python -m tools.shapes.train_vlm --work .cache/shapes-vlm --out tools/shapes/vlm_weights

Stages: ``data`` (rendered scenes and the diffusion model's images, labelled by the exact detector,
cached in shards; tools/shapes/vlm_data.py), ``train``, ``export`` (tools/shapes/vlm_export.py).
Seeded and resumable: data shards and training checkpoints are written atomically, and killing
and re-running the same command continues where it stopped (a resumed run draws the same batches).
Every ``--eval-every`` steps a line gives the held-out accuracy on diffusion-model images the
training never sees (their own seed stream).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from tools.shapes.brief import Brief
from tools.shapes.train_vae import log, save_torch
from tools.shapes.vlm_batch import Encoder, image_features, loss, p_yes
from tools.shapes.vlm_data import generate, load_split
from tools.shapes.vlm_dense import PatchHead, patch_labels
from tools.shapes.vlm_format import YES, detect_question, vqa_question
from tools.shapes.vlm_model import IMAGE_SIZE, TINY, VLMConfig, build_model, build_processor, n_parameters, pixel_values
from tools.shapes.vlm_questions import detect_questions, detection_from_dict, evaluation_questions, vqa_questions

DATA_SEED = 2000  # the diffusion model's training and evaluation seeds (0, 1000) are never reused


class Pool:
    """The images of one split with their detections and briefs, parsed once."""

    def __init__(self, root: Path, split: str, kinds=("model", "render"), limit: int | None = None):
        parts = [load_split(root, split, k, limit) for k in kinds]
        self.images = np.concatenate([p.images for p in parts])
        meta = [m for p in parts for m in p.meta]
        self.kind = np.array([m["source"] != "render" for m in meta])  # True: the diffusion model's
        self.dets = [detection_from_dict(m["detection"]) for m in meta]
        self.briefs = [Brief.model_validate(m["brief"]) if m["brief"] else None for m in meta]
        self.n_objects = [m["n_objects"] for m in meta]
        self.sources = [m["source"] for m in meta]
        self._labels: dict[tuple[int, int], np.ndarray] = {}

    def labels(self, picks: list[int], grid: int) -> np.ndarray:
        """(len(picks), 2, grid*grid): what each patch of each picked image shows (tools/shapes/vlm_dense.py)."""
        for i in picks:
            if (i, grid) not in self._labels:
                self._labels[i, grid] = patch_labels(self.dets[i], grid)
        return np.stack([self._labels[i, grid] for i in picks])

    def __len__(self) -> int:
        return len(self.dets)


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def draw_batch(pool: Pool, rng: np.random.Generator, args) -> tuple[list[int], list]:
    model_idx, render_idx = np.flatnonzero(pool.kind), np.flatnonzero(~pool.kind)
    picks = []
    for _ in range(args.batch_images):
        use_model = len(model_idx) and (not len(render_idx) or rng.random() < args.model_share)
        src = model_idx if use_model else render_idx
        picks.append(int(src[rng.integers(len(src))]))
    items = []
    for j, i in enumerate(picks):
        for q in vqa_questions(pool.dets[i], rng, args.questions, pool.briefs[i]):
            items.append((j, vqa_question(q.text), q.answer))
        for q in detect_questions(pool.dets[i], rng, args.detects):
            items.append((j, detect_question(q.text), q.answer))
    return picks, items


def heldout_set(pool: Pool, seed: int) -> list[tuple[int, object]]:
    """(image index, question) for every held-out image, the same every time (seeded per image)."""
    return [(i, q) for i in range(len(pool))
            for q in evaluation_questions(pool.dets[i], np.random.default_rng([seed, 1, i]), pool.briefs[i])]


@torch.no_grad()
def evaluate(model, enc: Encoder, pool: Pool, questions: list, device, batch: int = 256) -> dict:
    model.eval()
    vqa = [(i, q) for i, q in questions if q.kind != "detect"]
    probs = []
    for k in range(0, len(vqa), batch):
        chunk = vqa[k:k + batch]
        used = sorted({i for i, _ in chunk})
        where = {i: j for j, i in enumerate(used)}
        b = enc.batch([(where[i], vqa_question(q.text), None) for i, q in chunk])
        b = type(b)(*(t.to(device) for t in vars(b).values()))
        probs.append(p_yes(model, pixel_values(pool.images[used]).to(device), b, enc.yes).cpu())
    p = torch.cat(probs).numpy() if probs else np.zeros(0)
    truth = np.array([q.answer == YES for _, q in vqa])
    ok = (p >= 0.5) == truth
    own = np.array([q.source == "brief" for _, q in vqa])
    model.train()
    return {"accuracy": float(ok.mean()) if len(ok) else float("nan"), "questions": len(ok),
            "checklist_accuracy": float(ok[own].mean()) if own.any() else float("nan"),
            "nll": float(-np.log(np.where(truth, p, 1 - p).clip(1e-6)).mean()) if len(ok) else float("nan")}


def train(args, cfg: VLMConfig, work: Path, device: torch.device) -> None:
    processor = build_processor(cfg)
    enc = Encoder(processor.tokenizer, cfg.image_tokens)
    data = data_dir(args)
    pool = Pool(data, "train")
    held = Pool(data, "heldout", kinds=("model",), limit=args.eval_images)
    if not len(held):
        held = Pool(data, "heldout", kinds=("render",), limit=args.eval_images)
    questions = heldout_set(held, args.seed)
    log(f"train: {int(pool.kind.sum())} diffusion-model and {int((~pool.kind).sum())} rendered images; "
        f"held out: {len(held)} images, {sum(q.kind != 'detect' for _, q in questions)} yes/no questions")
    model = build_model(cfg, processor.tokenizer, seed=args.seed).to(device)
    ema = build_model(cfg, processor.tokenizer, seed=args.seed).to(device).eval()
    ema.load_state_dict(model.state_dict())
    if args.init_from and not (work / "ckpt.pt").exists():
        start = torch.load(args.init_from, weights_only=False)
        model.load_state_dict(start["ema"])
        ema.load_state_dict(start["ema"])
        log(f"train: starting from the EMA weights of {args.init_from} (step {start['step']})")
    head = PatchHead(cfg.text_width).to(device)
    grid = IMAGE_SIZE // cfg.patch
    params, ema_params = list(model.parameters()), list(ema.parameters())
    # Without patch labels the head is not trained (and a checkpoint from before it resumes as it was).
    trained = params + (list(head.parameters()) if args.dense_weight else [])
    opt = torch.optim.AdamW(trained, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    rng = np.random.default_rng([args.seed, 7])
    recipe = {"init_from": str(args.init_from) or None, "dense_weight": args.dense_weight, "lr": args.lr,
              "warmup": args.warmup, "steps": args.steps}
    step, spent, history = 0, 0.0, []
    ckpt = work / "ckpt.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        if "head" in state:  # a checkpoint from before the patch labels has none
            head.load_state_dict(state["head"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        step, spent, history = state["step"], state["seconds"], state["history"]
        recipe = state.get("recipe", recipe)
        log(f"train: resumed at step {step}")
    if step >= args.steps:
        log("train: done already")
        return
    log(f"train: {n_parameters(model) / 1e6:.2f} M parameters, {args.steps} steps on {device}, "
        f"{torch.get_num_threads()} threads")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    running = None
    with Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[info]}")) as bar:
        task = bar.add_task("train", total=args.steps, completed=step, info="")
        t0 = time.perf_counter()
        while step < args.steps:
            picks, items = draw_batch(pool, rng, args)
            b = enc.batch(items)
            b = type(b)(*(t.to(device) for t in vars(b).values()))
            for g in opt.param_groups:
                g["lr"] = lr_at(step, args)
            pixels = pixel_values(pool.images[picks]).to(device)
            feats = image_features(model, pixels)
            value = loss(model, pixels, b, feats)
            if args.dense_weight:
                labels = torch.from_numpy(pool.labels(picks, grid)).to(device)
                value = value + args.dense_weight * head.loss(feats, labels)
            opt.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
            step += 1
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, params, 1 - min(args.ema, (1 + step) / (10 + step)))
            running = value.item() if running is None else 0.98 * running + 0.02 * value.item()
            now = time.perf_counter()
            spent, t0 = spent + now - t0, now
            bar.update(task, completed=step, info=f"loss {running:.3f}")
            if step % args.log_every == 0:
                bar.console.print(f"[{time.strftime('%H:%M:%S')}] step {step}/{args.steps} loss {running:.4f} "
                                  f"lr {lr_at(step, args):.2e} {spent / step:.2f}s/step")
            if step % args.eval_every == 0 or step == args.steps:
                r = evaluate(ema, enc, held, questions, device)
                history.append({"step": step, "seconds": round(spent, 1), **r})
                bar.console.print(f"[{time.strftime('%H:%M:%S')}] held-out step {step}: yes/no accuracy "
                                  f"{r['accuracy']:.1%} ({r['questions']} questions), own checklist "
                                  f"{r['checklist_accuracy']:.1%}, nll {r['nll']:.3f}")
                save_torch({"ema": ema.state_dict(), "step": step}, work / f"ema_step_{step:06d}.pt")
                t0 = time.perf_counter()  # evaluation is not training time
            if step % args.ckpt_every == 0 or step == args.steps:
                save_torch({"model": model.state_dict(), "ema": ema.state_dict(), "head": head.state_dict(),
                            "opt": opt.state_dict(),
                            "rng": rng.bit_generator.state, "step": step, "seconds": spent,
                            "history": history, "recipe": recipe}, ckpt)
    log(f"train: finished, {spent / 60:.1f} minutes of training")


def data_dir(args) -> Path:
    return Path(args.data) if args.data else Path(args.work) / "data"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=".cache/shapes-vlm", help="data and checkpoints (not in git)")
    p.add_argument("--data", default="", help="the images (default: WORK/data); another training's may be shared")
    p.add_argument("--out", default="tools/shapes/vlm_weights", help="where the model folder goes")
    p.add_argument("--stage", choices=["all", "data", "train", "export"], default="all")
    p.add_argument("--config", choices=["default", "tiny"], default="default", help="tiny: for tests")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--model-shards", type=int, default=300, help="training shards of diffusion-model images")
    p.add_argument("--render-shards", type=int, default=200, help="training shards of rendered scenes")
    p.add_argument("--heldout-shards", type=int, default=16, help="held-out shards of diffusion-model images")
    p.add_argument("--shard-images", type=int, default=64, help="txt2img images per shard (renders: 4x)")
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--batch-images", type=int, default=16)
    p.add_argument("--questions", type=int, default=8, help="yes/no questions per image and step")
    p.add_argument("--detects", type=int, default=2, help="localisation questions per image and step")
    p.add_argument("--model-share", type=float, default=0.7, help="share of diffusion-model images per batch")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--dense-weight", type=float, default=1.0,
                   help="weight of the patch-label loss on the vision tower (tools/shapes/vlm_dense.py; 0: none)")
    p.add_argument("--init-from", default="",
                   help="a checkpoint or EMA snapshot of an earlier training to start from (its EMA weights)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-images", type=int, default=300, help="held-out images in the evaluation line")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--from-step", type=int, default=0, help="export: the EMA snapshot of this step")
    p.add_argument("--weights", choices=["ema", "raw"], default="ema",
                   help="export: the EMA weights, or the raw ones of the last checkpoint (ckpt.pt)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg = TINY if args.config == "tiny" else VLMConfig()
    (work / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "args": vars(args)}, indent=2))
    if args.stage in ("all", "data"):
        from tools.shapes.vlm_data import make_data

        make_data(args, data_dir(args), DATA_SEED + args.seed)
    if args.stage in ("all", "train"):
        train(args, cfg, work, torch.device(args.device))
    if args.stage in ("all", "export"):
        from tools.shapes.vlm_export import export

        log(f"exported the model to {export(args, cfg, work)}")


if __name__ == "__main__":
    main()
