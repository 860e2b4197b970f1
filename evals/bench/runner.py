"""ShapesBench: every method on the same seeded briefs, with one engine, one budget and the same seeds.

:func:`run_bench` is the one entry point. It loads the engine once, runs each (brief, method)
trial through its own counting proxy, judges every image exactly, writes each result the moment
it is done (a rerun skips finished ones), then aggregates and writes results.json and reports.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.critics.registry import make_critic
from agent.settings import SHAPES_MODEL
from evals.bench.counting import CountingEngine
from evals.bench.errors import BenchError
from evals.bench.judge import ExactJudge
from evals.bench.methods import METHOD_NAMES, LoopbackOptions, Trial, describe, get_method, known_methods
from evals.bench.methods.loopback import CURVES
from evals.bench.metrics import aggregate, record_key
from evals.bench.records import build_record, build_timings, read_result, record_path, write_result

VERSION = 1
RESULTS_FILE = "results.json"
DIFFICULTIES = (1, 2, 3)  # objects per brief


@dataclass
class BenchConfig:
    briefs: int = 50  # per difficulty
    difficulties: tuple[int, ...] = (2,)
    budget: int = 8  # images per method and brief
    methods: tuple[str, ...] = METHOD_NAMES
    critic: str = "scene"  # the driving critic; results are always judged by the exact one
    critic_base_url: str | None = None
    seed: int = 0
    out: Path = Path("bench-out")
    model: str = SHAPES_MODEL
    steps: int | None = None  # None: the model's recommended steps
    loopback: LoopbackOptions = field(default_factory=LoopbackOptions)
    examples: int = 6  # agent trees shown in report.html
    show_progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.difficulties = tuple(self.difficulties)
        self.methods = tuple(self.methods)

    def critic_options(self) -> dict[str, Any]:
        return {"base_url": self.critic_base_url} if self.critic_base_url else {}

    def validate(self) -> None:
        if self.briefs < 1:
            raise BenchError(f"--briefs must be at least 1, got {self.briefs}")
        bad = [d for d in self.difficulties if d not in DIFFICULTIES]
        if not self.difficulties or bad or len(set(self.difficulties)) != len(self.difficulties):
            raise BenchError(f"--difficulty takes distinct objects-per-brief counts from 1, 2, 3 "
                             f"(e.g. --difficulty 1,2,3), got {','.join(map(str, self.difficulties)) or 'none'}")
        if self.budget < 1:
            raise BenchError(f"--budget must be at least 1 image, got {self.budget}")
        unknown = [m for m in self.methods if m not in known_methods()]
        if not self.methods or unknown or len(set(self.methods)) != len(self.methods):
            raise BenchError(f"--methods takes distinct names from {', '.join(known_methods())}, got "
                             f"{','.join(self.methods) or 'none'}")
        if self.seed < 0:
            raise BenchError(f"--seed must be a whole number >= 0, got {self.seed}")
        if self.steps is not None and self.steps < 1:
            raise BenchError(f"--steps must be at least 1, got {self.steps}")
        lb = self.loopback
        for name, value in (("initial", lb.initial), ("final", lb.final)):
            if not 0 < value <= 1:
                raise BenchError(f"--loopback-{name} is a denoising strength in (0, 1], got {value}")
        if lb.curve not in CURVES:
            raise BenchError(f"--loopback-curve must be one of {', '.join(CURVES)}, got {lb.curve!r}")
        if self.examples < 0:
            raise BenchError(f"--examples must be 0 or more, got {self.examples}")
        if self.out.exists() and not self.out.is_dir():
            raise BenchError(f"--out {self.out} is a file; give a folder (it is created if missing)")

    def command(self) -> str:
        """The full command line that reproduces this benchmark (every option spelled out)."""
        parts = ["sculpt", "bench", "--briefs", str(self.briefs),
                 "--difficulty", ",".join(map(str, self.difficulties)), "--budget", str(self.budget),
                 "--methods", ",".join(self.methods), "--critic", self.critic, "--seed", str(self.seed),
                 "--out", str(self.out), "--model", self.model]
        if self.steps is not None:
            parts += ["--steps", str(self.steps)]
        if self.critic_base_url:
            parts += ["--critic-base-url", self.critic_base_url]
        lb = self.loopback
        parts += ["--loopback-initial", f"{lb.initial:g}", "--loopback-final", f"{lb.final:g}",
                  "--loopback-curve", lb.curve]
        if self.examples != BenchConfig.examples:
            parts += ["--examples", str(self.examples)]
        return shlex.join(parts)


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
    """What a single result depends on; results made under other settings are never mixed in."""
    identity = getattr(getattr(engine, "identity", None), "to_dict", lambda: {"source": config.model})()
    return {"version": VERSION, "seed": config.seed, "budget": config.budget, "critic": config.critic,
            "judge": "scene", "model": identity, "steps": engine.default_steps,
            "guidance": getattr(engine, "default_guidance", None), "loopback": asdict(config.loopback)}


def _load_engine(config: BenchConfig, engine):
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


def run_bench(config: BenchConfig, engine=None) -> BenchResult:
    """Run (or resume) the benchmark ``config`` describes; ``engine``: an already loaded one."""
    config.validate()
    items = make_briefs(config.seed, config.briefs, config.difficulties)
    make_critic(config.critic, **config.critic_options())  # a bad critic spec fails before the model loads
    t_start = time.perf_counter()
    engine = _load_engine(config, engine)
    load_s = time.perf_counter() - t_start
    _check_loopback(config, engine.default_steps)
    settings = _settings(config, engine)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    judge = ExactJudge()
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
                    record, timing = read_result(path, digest)
                    resumed += 1
                else:
                    progress.update(task, note=f"{item.id} · {method}")
                    record, timing = _run_trial(config, item, method, engine, judge, digest)
                    write_result(path, record, timing)
                records.append(record)
                timings[record_key(record)] = timing
                progress.update(task, advance=1, note=f"{resumed} resumed" if resumed else "")
    agg, tim = aggregate(records, timings, config.methods, config.difficulties, config.budget)
    results = {
        "benchmark": "ShapesBench", "version": VERSION, "command": config.command(),
        "settings": {**settings, "settings_digest": digest, "briefs_per_difficulty": config.briefs,
                     "difficulties": list(config.difficulties), "methods": list(config.methods),
                     "critic_base_url": config.critic_base_url},
        "methods": {m: describe(m) for m in config.methods},
        "briefs": [asdict(i) for i in items],
        "aggregates": agg,
        "records": records,
        # Everything that depends on the machine or on how the run went (clock, file sizes, what
        # was resumed): kept apart so the rest of the file is identical for identical settings.
        "timings": {"total_s": round(time.perf_counter() - t_start, 3), "engine_load_s": round(load_s, 3),
                    "resumed_results": resumed, "exact_critiques": judge.fresh, "aggregates": tim,
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
                  critic_spec=config.critic, critic_options=config.critic_options(), out=config.out,
                  model=config.model, loopback=config.loopback)
    t0 = time.perf_counter()
    outcome = get_method(method)(trial)
    wall = time.perf_counter() - t0
    record = build_record(item, method, outcome, proxy, judge, config.out, config.budget, digest)
    return record, build_timings(wall, proxy, outcome)
