"""Seconds per engine call for each tool, as ratios to txt2img measured in the same process.

    python -m evals.engine_timing [--model PATH] [--steps 20] [--repeats 5]

Defaults to the shipped shapes model. Each tool is warmed up once, then timed over --repeats calls
with different seeds; variations report the whole batched call and its cost per image.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table

PROMPT = "a red circle to the left of a blue square, yellow background"


def timed(fn, repeats: int) -> float:
    fn(0)  # warm-up: first calls pay for lazy pipeline creation and allocator growth
    times = []
    for i in range(1, repeats + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n", type=int, default=4, help="images per variations call")
    args = p.parse_args(argv)
    from agent.components import resolve_model
    from tools.engine import Engine
    from tools.engine.quiet import quiet_libraries
    from tools.shapes.parse import parse_brief
    from tools.shapes.render import render

    quiet_libraries()
    t0 = time.perf_counter()
    engine = Engine.load(args.model or resolve_model("shapes"), steps=args.steps)
    load = time.perf_counter() - t0
    image, _ = render(parse_brief(PROMPT), np.random.default_rng(0), size=engine.native_size[0])
    r = {
        "txt2img": timed(lambda s: engine.txt2img(PROMPT, seed=s), args.repeats),
        "img2img (strength 0.5)": timed(lambda s: engine.img2img(image, PROMPT, strength=0.5, seed=s), args.repeats),
        "inpaint (strength 1.0)": timed(lambda s: engine.inpaint(image, PROMPT, region=(0, 0, 0.5, 0.5), seed=s),
                                        args.repeats),
        f"variations (n={args.n}, txt2img)": timed(lambda s: engine.variations(None, PROMPT, n=args.n, seed=10 * s),
                                                   args.repeats),
        f"variations (n={args.n}, strength 0.35)": timed(
            lambda s: engine.variations(image, PROMPT, n=args.n, strength=0.35, seed=10 * s), args.repeats),
    }
    base = r["txt2img"]
    table = Table(title=f"engine per call · {engine.identity.source} · {args.steps} steps · "
                        f"{engine.device}/{str(engine.dtype).removeprefix('torch.')} · load {load:.2f}s")
    for col in ("tool", "seconds per call", "per image", "vs txt2img"):
        table.add_column(col, justify="right" if col != "tool" else "left")
    for name, sec in r.items():
        per_image = sec / args.n if name.startswith("variations") else sec
        table.add_row(name, f"{sec:.3f}", f"{per_image:.3f}", f"{per_image / base:.2f}x")
    Console().print(table)
    return {"load_seconds": load, **r}


if __name__ == "__main__":
    main()
