"""Measure the shapes critic model on held-out diffusion-model images: the critic's own figures.

    python -m evals.shapes_vlm [--model tools/shapes/vlm_weights] [--images 1000] [--out FILE]

The model is loaded through ``AutoProcessor`` and ``AutoModelForImageTextToText`` alone and asked
exactly as the generic ``hf:`` critic asks (chat template, then the processor; P(Yes) is the
softmax over the whole vocabulary at the last input position). The images are the held-out shards
of ``python -m tools.shapes.train_vlm --stage data`` (made here if missing: their own seed stream,
never seen in training); every answer is checked against the exact detector and checker.

Measured: per-verdict accuracy overall, per requirement kind, per number of objects, per image
source and per question origin (the image's own checklist, true descriptions, each kind of hard
negative); false-yes and false-no rates; calibration (expected calibration error and a reliability
plot); seconds per critique (an image's whole checklist in one batched forward pass) against
seconds per image of the diffusion model; localisation (share of true boxes found at IoU >= 0.5,
and "none" for objects that are absent).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import get_args

import numpy as np
import torch
from rich.console import Console
from rich.progress import track

from agent.critics.card import CriticCard, KindFigures, write_card
from agent.vlm.loc_tokens import location_decoding
from evals.shapes_vlm_metrics import calibration, fitted_noise, localisation, rates, reliability_plot, show
from tools.contracts import RequirementKind
from tools.shapes.vlm_format import YES, detect_question, parse_detect_answer, vqa_question

console = Console()


def load(model: str):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model)
    net = AutoModelForImageTextToText.from_pretrained(model).eval()
    return processor, net


def inputs(processor, image, questions: list[str]):
    """The agreed input: the chat template's text, then the processor, one row per question."""
    texts = [processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}],
        add_generation_prompt=True, tokenize=False) for q in questions]
    return processor(images=[image] * len(texts), text=texts, return_tensors="pt", padding=True)


@torch.no_grad()
def p_yes(processor, net, image, texts: list[str]) -> np.ndarray:
    """VQAScore for requirement texts: P("Yes"), all of them in one batched forward pass."""
    batch = inputs(processor, image, [vqa_question(t) for t in texts])
    logits = net(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, -1].float()
    return logits.softmax(-1)[:, processor.tokenizer.convert_tokens_to_ids(YES)].numpy()


@torch.no_grad()
def boxes(processor, net, image, labels: list[str]) -> list[list]:
    batch = inputs(processor, image, [detect_question(lab) for lab in labels])
    n_in = batch["input_ids"].shape[1]
    # The localiser's own decoding (agent/vlm/loc_tokens.py), so these figures are what a run gets.
    out = net.generate(**{k: v for k, v in batch.items() if k != "labels"}, max_new_tokens=32, do_sample=False,
                       logits_processor=location_decoding(processor.tokenizer, n_in))
    texts = processor.batch_decode(out[:, n_in:], skip_special_tokens=True)
    return [parse_detect_answer(t) for t in texts]


def heldout(data: Path, shards: int, seed: int):
    from tools.shapes.train_vlm import DATA_SEED, Pool
    from tools.shapes.vlm_data import generate, shard_path

    if any(not shard_path(data, "heldout", "model", i).exists() for i in range(shards)):
        from agent.components import shapes_model_path
        from tools.engine import Engine

        console.print(f"making the held-out images in {data} (the training data's own held-out stream)")
        generate(data, DATA_SEED + seed, "heldout", "model", shards, 64, Engine.load(shapes_model_path()),
                 report=console.print)
    return Pool(data, "heldout", kinds=("model",))


def diffusion_seconds(steps_note: dict) -> float:
    from agent.components import shapes_model_path
    from tools.engine import Engine

    engine = Engine.load(shapes_model_path())
    prompt = "a red circle to the left of a blue square, yellow background"
    engine.txt2img(prompt, seed=0)  # warm-up
    t0 = time.perf_counter()
    for s in range(5):
        engine.txt2img(prompt, seed=s)
    steps_note["steps"] = engine.default_steps
    return (time.perf_counter() - t0) / 5


def run(args) -> dict:
    from PIL import Image

    from tools.shapes.train_vlm import heldout_set

    processor, net = load(args.model)
    pool = heldout(Path(args.data), args.shards, args.seed)
    n = min(args.images, len(pool))
    questions = [(i, q) for i, q in heldout_set(pool, args.seed) if i < n]
    rows, dets, critique_seconds = [], [], []
    for i in track(range(n), description="held-out images", console=console):
        image = Image.fromarray(pool.images[i])
        mine = [q for j, q in questions if j == i]
        vqa = [q for q in mine if q.kind != "detect"]
        own = [q.text for q in vqa if q.source == "brief"]
        if own:  # a critique: the image's whole checklist, one batched forward pass
            t0 = time.perf_counter()
            p_yes(processor, net, image, own)
            critique_seconds.append(time.perf_counter() - t0)
        probs = p_yes(processor, net, image, [q.text for q in vqa]) if vqa else []
        for q, p in zip(vqa, probs):
            rows.append({"kind": q.kind, "source": q.source, "truth": q.answer == YES, "p": float(p),
                         "objects": pool.n_objects[i], "image_source": pool.sources[i]})
        found = [q for q in mine if q.kind == "detect"]
        if found:
            for q, pred in zip(found, boxes(processor, net, image, [q.text for q in found])):
                dets.append({"truth": [b for b, _ in parse_detect_answer(q.answer)], "pred": pred, "label": q.text})
    steps = {}
    result = {
        "model": str(args.model), "images": n, "threads": torch.get_num_threads(),
        "verdicts": rates(rows),
        "checklist": rates([r for r in rows if r["source"] == "brief"]),
        "by_kind": {k: rates([r for r in rows if r["kind"] == k]) for k in sorted({r["kind"] for r in rows})},
        "by_objects": {str(k): rates([r for r in rows if r["objects"] == k]) for k in (1, 2, 3)},
        "by_image_source": {k: rates([r for r in rows if r["image_source"] == k])
                            for k in ("txt2img", "img2img", "inpaint")},
        "by_question": {k: rates([r for r in rows if r["source"] == k]) for k in sorted({r["source"] for r in rows})},
        "calibration": calibration(rows),
        "fitted_noise": fitted_noise([r for r in rows if r["source"] == "brief"]),
        "localisation": localisation(dets),
        "seconds_per_critique": float(np.mean(critique_seconds)) if critique_seconds else None,
        "requirements_per_critique": sum(q.source == "brief" for _, q in questions) / max(1, n),
    }
    if not args.no_speed:
        result["diffusion_seconds_per_image"] = diffusion_seconds(steps)
        result["diffusion_steps"] = steps.get("steps")
    if args.plot:
        reliability_plot(rows, Path(args.plot))
        result["reliability_plot"] = args.plot
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "tools/shapes/vlm_weights"))
    p.add_argument("--data", default=".cache/shapes-vlm/data", help="where the held-out shards are (or go)")
    p.add_argument("--shards", type=int, default=16, help="held-out shards (about 80 images each)")
    p.add_argument("--images", type=int, default=10_000, help="at most this many held-out images")
    p.add_argument("--seed", type=int, default=0, help="the training run's seed (its held-out stream)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--plot", default="eval-out/shapes_vlm_reliability.png", help="reliability plot (PNG)")
    p.add_argument("--no-speed", action="store_true", help="skip timing the diffusion model")
    p.add_argument("--out", default=None, help="write the figures as JSON here too")
    p.add_argument("--card", action="store_true",
                   help="write the per-kind figures beside the model as its critic_card.json "
                        "(agent/critics/card.py: kinds it cannot tell apart are then not judged)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    result = run(args)
    show(result, console)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    if args.card:
        card = card_of(result, "python -m evals.shapes_vlm " + " ".join(argv or sys.argv[1:]))
        path = write_card(args.model, card)
        console.print(f"critic card: {path} (not judged: {', '.join(sorted(card.blind_kinds())) or 'none'})")
    return result


def card_of(result: dict, command: str) -> CriticCard:
    kinds = {k: KindFigures(n=v["n"], false_yes=v.get("false_yes"), false_no=v.get("false_no"))
             for k, v in result["by_kind"].items() if k in get_args(RequirementKind)}
    return CriticCard(measured_by=command, images=result["images"], kinds=kinds)


if __name__ == "__main__":
    main()
