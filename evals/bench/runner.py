"""ShapesBench: every method on the same seeded briefs, with one engine, one budget and the same seeds.

:func:`run_bench` is the one entry point. It loads the engine once, runs each (brief, method)
trial through its own counting proxy, judges every image exactly, writes each result the moment
it is done (a rerun skips finished ones), then aggregates and writes results.json and reports.

A result is kept only under the settings it depends on (its digest): the shared ones (seed,
budget, model, steps...) and those its method reads (the critic, loopback's options, the agent's
policy; evals/bench/methods/__init__.py). Results of methods driven by another critic never mix,
and those of a method that uses no critic are the same under every critic (a noise sweep reuses them).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.components import critic_for
from evals.bench.config import DIFFICULTIES, BenchConfig
from evals.bench.counting import CountingEngine
from evals.bench.errors import BenchError
from evals.bench.judge import ExactJudge
from evals.bench.methods import OPTIONAL_SETTINGS, Trial, describe, get_method, uses
from evals.bench.metrics import aggregate, record_key
from evals.bench.records import build_record, build_timings, read_result, record_path, write_result

# 2: records carry each answer's claim by the driving critic and the agent's drift audit, and a
# result's digest covers only the settings its method reads.
VERSION = 2
RESULTS_FILE = "results.json"

__all__ = ["DIFFICULTIES", "RESULTS_FILE", "VERSION", "BenchConfig", "BenchResult", "BriefItem", "load_engine",
           "make_briefs", "run_bench"]


@dataclass(frozen=True)
class BriefItem:
    id: str
    difficulty: int
    index: int
    text: str
    seed: int


def make_briefs(seed: int, n: int, difficulties: tuple[int, ...]) -> list[BriefItem]:
    from tools.shapes.sample import benchmark_briefs

    items = []
    for d in difficulties:
        for i, brief in enumerate(benchmark_briefs(seed, n, d)):
            # Each brief its own seed, drawn from (seed, difficulty, index): briefs do not share noise,
            # and adding briefs or difficulties never changes the seeds of the others.
            s = int(np.random.default_rng([seed, d, i]).integers(0, 2**31))
            items.append(BriefItem(id=f"d{d}-{i:03d}", difficulty=d, index=i, text=brief.text(), seed=s))
    return items


@dataclass
class BenchResult:
    results: dict[str, Any]
    paths: dict[str, Path]
    resumed: int  # results read back from an earlier, interrupted run


def _settings(config: BenchConfig, engine) -> dict[str, Any]:
    """What results depend on; results made under other settings are never mixed in."""
    identity = getattr(getattr(engine, "identity", None), "to_dict", lambda: {"source": config.model})()
    return {"version": VERSION, "seed": config.seed, "budget": config.budget, "critic": config.critic_identity(),
            "judge": "scene", "model": identity, "steps": engine.default_steps,
            "guidance": getattr(engine, "default_guidance", None), "loopback": asdict(config.loopback),
            "agent_policy": dict(config.agent_policy)}


def _digest(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def method_digest(settings: dict[str, Any], method: str) -> str:
    """The digest of the settings ``method``'s results depend on (those of other methods left out)."""
    ignored = OPTIONAL_SETTINGS - uses(method)
    return _digest({k: v for k, v in settings.items() if k not in ignored})


def load_engine(config: BenchConfig, engine=None):
    """``engine`` checked against the config, or the config's model loaded."""
    if engine is not None:
        if config.steps is not None and engine.default_steps != config.steps:
            raise BenchError(f"the engine given runs {engine.default_steps} steps, but steps={config.steps} "
                             "was asked for; load it with Engine.load(..., steps=...) or leave steps unset")
        return engine
    from agent.components import resolve_model
    from tools.engine import Engine

    return Engine.load(resolve_model(config.model), steps=config.steps)


def _check_loopback(config: BenchConfig, steps: int) -> None:
    if "loopback" not in config.methods or config.budget < 2:
        return
    low = min(config.loopback.initial, config.loopback.final)
    # diffusers denoises int(steps * strength) steps; zero would hand back the input unchanged.
    if int(steps * low) < 1:
        raise BenchError(f"loopback strength {low:g} with {steps} steps runs no denoising step; raise "
                         f"--loopback-initial/--loopback-final to at least {1 / steps:.3g} or --steps")


def run_bench(config: BenchConfig, engine=None, judge: ExactJudge | None = None) -> BenchResult:
    """Run (or resume) the benchmark ``config`` describes; ``engine``: an already loaded one;
    ``judge``: an exact judge whose cached verdicts may be shared (a noise sweep's levels)."""
    config.validate()
    items = make_briefs(config.seed, config.briefs, config.difficulties)
    critic_for(config.critic, config.critic_options(), config.localiser)  # a bad critic fails before the model loads
    t_start = time.perf_counter()
    engine = load_engine(config, engine)
    load_s = time.perf_counter() - t_start
    _check_loopback(config, engine.default_steps)
    settings = _settings(config, engine)
    digest = _digest(settings)
    digests = {m: method_digest(settings, m) for m in config.methods}
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    judge = judge or ExactJudge()
    fresh_before = judge.fresh
    records: list[dict] = []
    timings: dict[str, dict] = {}
    resumed = 0
    progress = Progress(TextColumn("[bold]bench"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[note]}"), console=Console(stderr=True),
                        disable=not config.show_progress, transient=True)
    with progress:
        task = progress.add_task("bench", total=len(items) * len(config.methods), note="")
        for item in items:
            for method in config.methods:
                path = record_path(out, method, item.id)
                if path.exists():
                    record, timing = read_result(path, digests[method])
                    resumed += 1
                else:
                    progress.update(task, note=f"{item.id} · {method}")
                    record, timing = _run_trial(config, item, method, engine, judge, digests[method])
                    write_result(path, record, timing)
                records.append(record)
                timings[record_key(record)] = timing
                progress.update(task, advance=1, note=f"{resumed} resumed" if resumed else "")
    agg, tim = aggregate(records, timings, config.methods, config.difficulties, config.budget)
    results = {
        "benchmark": "ShapesBench", "version": VERSION, "command": config.command(),
        "settings": {**settings, "settings_digest": digest, "method_digests": digests,
                     "briefs_per_difficulty": config.briefs,
                     "difficulties": list(config.difficulties), "methods": list(config.methods),
                     "critic_base_url": config.critic_base_url},
        "methods": {m: describe(m) for m in config.methods},
        "briefs": [asdict(i) for i in items],
        "aggregates": agg,
        "records": records,
        # Everything that depends on the machine or on how the run went (clock, file sizes, what
        # was resumed): kept apart so the rest of the file is identical for identical settings.
        "timings": {"total_s": round(time.perf_counter() - t_start, 3), "engine_load_s": round(load_s, 3),
                    "resumed_results": resumed, "exact_critiques": judge.fresh - fresh_before, "aggregates": tim,
                    "records": timings},
    }
    from evals.bench.report import write_reports

    paths = {"results": out / RESULTS_FILE}
    tmp = out / f".{RESULTS_FILE}.tmp"
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, paths["results"])
    paths.update(write_reports(results, out, examples=config.examples))
    return BenchResult(results=results, paths=paths, resumed=resumed)


def _run_trial(config: BenchConfig, item: BriefItem, method: str, engine, judge: ExactJudge,
               digest: str) -> tuple[dict, dict]:
    proxy = CountingEngine(engine, config.budget, label=f"{method} on {item.id}")
    trial = Trial(brief=item.text, brief_id=item.id, seed=item.seed, budget=config.budget, engine=proxy,
                  critic_spec=config.critic, critic_options=config.critic_options(), localiser=config.localiser,
                  out=config.out,
                  model=config.model, loopback=config.loopback, policy=dict(config.agent_policy))
    t0 = time.perf_counter()
    outcome = get_method(method)(trial)
    wall = time.perf_counter() - t0
    record = build_record(item, method, outcome, proxy, judge, config.out, config.budget, digest)
    return record, build_timings(wall, proxy, outcome)
