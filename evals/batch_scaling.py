"""How a batch scales: the same briefs in this process, on 1 Ray worker and on 2.

    python -m evals.batch_scaling [--briefs 20] [--budget 6] [--steps 8] [--workers 1,2] [--rounds 2]

Briefs per minute for each, the ratios (Ray on 1 worker against in process: what Ray costs; 2
workers against 1: how close to the cores' limit), each mode's start-up (Ray's worker processes and
engines; not counted in the rates), what the batch adds to each brief (on one worker, the median
time from a brief's end to the next one's start) and whether the images are the same as in process.

Every mode runs each round in a fresh batch folder after a warm-up brief (first calls pay for
kernel set-up), rounds alternate the order of the modes, and the fastest round of each mode is
reported: other work on the machine only ever slows a run down. The CPUs are split between the
workers as ``sculpt batch --workers N`` splits them. On CPUs the number of threads an engine uses
changes the last bits of its sums, so images are compared with an in-process run that used as
many threads as each worker: that is also run (its rate is shown, but it is not a mode anyone
would choose). The shipped shapes model and its exact critic stand in for a real model and judge.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table


def write_briefs(path: Path, n: int, seed: int) -> Path:
    from tools.shapes.sample import benchmark_briefs

    briefs = [b.text() for d in (2, 3) for b in benchmark_briefs(seed, (n + 1) // 2, d)][:n]
    lines = [json.dumps({"brief": b, "seed": int(np.random.default_rng([seed, i]).integers(0, 2**31))})
             for i, b in enumerate(briefs)]
    path.write_text("\n".join(lines) + "\n")
    return path


def gaps(items: list[dict]) -> list[float]:
    """On each worker, the seconds from one brief's end to the next one's start: what running a
    batch adds to each brief (the manifest, the report, and on Ray the round trip to the driver)."""
    by_worker: dict[str, list[dict]] = {}
    for e in items:
        by_worker.setdefault(e.get("worker"), []).append(e)
    out = []
    for es in by_worker.values():
        es.sort(key=lambda e: e["started"])
        out += [b["started"] - a["finished"] for a, b in itertools.pairwise(es)]
    return out


def measure(mode: str, threads: int, manifest: dict, wall: float, startup: float) -> dict:
    items = list(manifest["items"].values())
    return {"mode": mode, "threads": threads, "briefs": len(items), "wall": wall, "startup": startup,
            "briefs_per_min": 60 * len(items) / wall, "images": sum(e.get("generations", 0) for e in items),
            "overhead_per_brief": statistics.median(gaps(items) or [0.0]),
            "results": {k: (e["status"], e.get("generations"), e.get("best_image")) for k, e in manifest["items"].items()}}


def in_process(threads: int, briefs: Path, warm: Path, out: Path, template) -> dict:
    import torch

    from agent.batch.serial import run_batch
    from agent.components import load_engine

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    engine = load_engine(template)  # once per process: later rounds find it loaded
    run_batch(warm, out / "warm", template, engine=engine)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    manifest = run_batch(briefs, out / "night", template, engine=engine)
    return measure("in process", threads, manifest, time.perf_counter() - t0, startup)


def on_ray(workers: int, briefs: Path, warm: Path, out: Path, template) -> dict:
    from agent.batch.distributed import run_batch_on_ray
    from agent.batch.pool import WorkerPool, plan

    t0 = time.perf_counter()
    n, cpus, gpus = plan(workers, None, local=True)
    pool = WorkerPool(template, n, cpus=cpus, gpus=gpus)
    try:
        run_batch_on_ray(warm, out / "warm", template, pool)  # every worker started and warm
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        manifest = run_batch_on_ray(briefs, out / "night", template, pool)
        return measure(f"Ray, {n} worker{'s' * (n > 1)}", int(cpus), manifest, time.perf_counter() - t0, startup)
    finally:
        pool.close()


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--briefs", type=int, default=20)
    p.add_argument("--budget", type=int, default=6, help="images per brief")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--workers", default="1,2", help="Ray worker counts to try")
    p.add_argument("--rounds", type=int, default=2, help="runs of each mode; the fastest is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="keep the batch folders here [default: a temp folder]")
    args = p.parse_args(argv)
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    from agent.batch.pool import connect, shutdown
    from agent.spec import RunSpec

    out = args.out or Path(tempfile.mkdtemp(prefix="batch-scaling-"))
    out.mkdir(parents=True, exist_ok=True)
    briefs = write_briefs(out / "briefs.txt", args.briefs, args.seed)
    warm = write_briefs(out / "warm.txt", 2, args.seed + 1)
    template = RunSpec(brief="-", budget={"generations": args.budget}, generation={"steps": args.steps})
    console = Console(highlight=False, width=150)
    cores = os.cpu_count() or 1
    console.print(f"{args.briefs} briefs, {args.budget} images each at most, {args.steps} steps, {cores} CPU cores, "
                  f"{args.rounds} rounds; batch folders in {out}")
    workers = [int(w) for w in args.workers.split(",")]
    modes = [("in process", cores)] + [("in process", t) for t in sorted({max(1, cores // w) for w in workers})
                                       if t != cores] + [("ray", w) for w in workers]
    load = os.getloadavg()[0]  # other work on the machine skews every rate: say how much there was
    t0 = time.perf_counter()
    connect(None)
    ray_start = time.perf_counter() - t0
    best: dict[tuple, dict] = {}
    try:
        for r in range(args.rounds):
            for kind, n in (modes if r % 2 == 0 else modes[::-1]):
                folder = out / f"round{r + 1}" / f"{kind.replace(' ', '-')}-{n}"
                row = in_process(n, briefs, warm, folder, template) if kind == "in process" else \
                    on_ray(n, briefs, warm, folder, template)
                if (kind, n) not in best or row["wall"] < best[(kind, n)]["wall"]:
                    best[(kind, n)] = row
    finally:
        shutdown()
    rows = [best[m] for m in modes]
    show(console, rows, ray_start)
    loads = (load, os.getloadavg()[0])
    console.print(f"load average (1 min) {loads[0]:.1f} before, {loads[1]:.1f} after, on {cores} cores")
    (out / "scaling.json").write_text(json.dumps({"ray_start": ray_start, "load": loads, "rows": rows}, indent=1))
    return rows


def show(console: Console, rows: list[dict], ray_start: float) -> None:
    table = Table(title="sculpt batch: the same briefs in process and on Ray")
    for col in ("mode", "threads/engine", "briefs/min", "images/min", "wall s", "vs in process", "vs 1 worker",
                "start-up s", "between briefs s", "same images"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    base = rows[0]
    one = next((r for r in rows if r["mode"] == "Ray, 1 worker"), None)
    alike = {r["threads"]: r for r in rows if r["mode"] == "in process"}
    for r in rows:
        twin = alike.get(r["threads"])
        table.add_row(r["mode"], str(r["threads"]), f"{r['briefs_per_min']:.1f}", f"{60 * r['images'] / r['wall']:.1f}",
                      f"{r['wall']:.1f}", f"{r['briefs_per_min'] / base['briefs_per_min']:.2f}×",
                      f"{r['briefs_per_min'] / one['briefs_per_min']:.2f}×" if one else "—",
                      f"{r['startup']:.1f}", f"{r['overhead_per_brief']:.3f}",
                      "—" if twin is r else ("yes" if twin and r["results"] == twin["results"] else "NO"))
    console.print(table)
    console.print(f"Ray itself started in {ray_start:.1f} s (a local instance). Start-up: engine loads and a warm-up "
                  "brief (in Ray, the worker processes too), not counted in the rates. Same images: as the run in "
                  "process with as many threads per engine.")


if __name__ == "__main__":
    main()
