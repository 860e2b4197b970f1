"""Make a kit for labelling shapes-model outputs by hand, blind to the detector.

    python -m evals.label_kit --n 120 --out evals/data/label-kit [--model PATH] [--steps 20]

Writes images/NNN.png (the model's outputs at native size), sheets/sheet_NN.png (six images per
sheet, enlarged, with a faint 3x3 grid so positions can be judged by eye) and tasks.md (each image's
brief and requirements). A person answers every requirement by looking, and writes one JSON line
per image to evals/data/shapes_labels.jsonl:

    {"image": "label-kit/images/007.png", "brief": "...", "labels": {"g0.object": true, ...}}

`python -m evals.shapes_model` then reports how often the detector agrees with those labels.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tools.shapes.sample import benchmark_briefs

SCALE = 4
PER_SHEET = 6


def sheet(images: list[tuple[int, Image.Image]]) -> Image.Image:
    side = 64 * SCALE
    pad, label = 12, 22
    canvas = Image.new("RGB", (3 * (side + pad) + pad, 2 * (side + pad + label) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for k, (index, img) in enumerate(images):
        x = pad + (k % 3) * (side + pad)
        y = pad + (k // 3) * (side + pad + label)
        big = img.resize((side, side), Image.Resampling.NEAREST)
        grid = ImageDraw.Draw(big)
        for t in (1, 2):  # faint thirds: the grid positions are judged against
            grid.line([(t * side // 3, 0), (t * side // 3, side)], fill=(128, 128, 128), width=1)
            grid.line([(0, t * side // 3), (side, t * side // 3)], fill=(128, 128, 128), width=1)
        canvas.paste(big, (x, y + label))
        draw.text((x, y + 4), f"#{index:03d}", fill=(0, 0, 0))
    return canvas


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=120)
    p.add_argument("--out", default="evals/data/label-kit")
    p.add_argument("--model", default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=77)
    args = p.parse_args(argv)
    from agent.components import resolve_model
    from tools.engine import Engine
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    engine = Engine.load(args.model or resolve_model("shapes"), steps=args.steps)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "sheets").mkdir(exist_ok=True)
    per = -(-args.n // 3)
    briefs = [b for k in (1, 2, 3) for b in benchmark_briefs(args.seed, per, k)][: args.n]
    order = np.random.default_rng(args.seed).permutation(len(briefs))  # mix difficulties on each sheet
    tasks = ["# Label each image by eye: for every requirement, does the picture show it?", ""]
    made: list[tuple[int, Image.Image]] = []
    for index, k in enumerate(order, 1):
        b = briefs[k]
        img = engine.txt2img(b.text(), seed=args.seed * 1000 + index).image
        img.save(out / "images" / f"{index:03d}.png")
        made.append((index, img))
        tasks.append(f"## #{index:03d} — {b.text()}")
        tasks += [f"- `{r.id}`: {r.text}" for r in b.requirements()]
        tasks.append("")
    for s in range(0, len(made), PER_SHEET):
        sheet(made[s:s + PER_SHEET]).save(out / "sheets" / f"sheet_{s // PER_SHEET + 1:02d}.png")
    (out / "tasks.md").write_text("\n".join(tasks))
    print(f"{len(made)} images, {-(-len(made) // PER_SHEET)} sheets, tasks in {out / 'tasks.md'}")


if __name__ == "__main__":
    main()
