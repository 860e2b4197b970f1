"""A critic-noise sweep: the benchmark at several critic error rates, judged exactly at every one.

``sculpt bench --critic-noise 0,0.05,0.1,0.2 [--noise-options yes=0.7,near=2]`` runs one
benchmark per level into ``<out>/noise-<rate>/``: level 0 is driven by the exact critic
(``scene``), a level r > 0 by ``noisy:r`` with the options. Each level folder is exactly what
``sculpt bench --critic SPEC --out <out>/noise-<rate>`` writes (its results.json records that
command), so each level resumes, or is rerun alone, like a plain benchmark. The sweep then writes
``sweep.json``, ``report.md`` and ``report.html`` (evals/bench/sweep_report.py) in ``<out>``.

Work that is identical at every level is done once. Methods that use no critic (single,
loopback) make the same images from the same seeds and get the same exact verdicts whatever
critic drives the others, and their results carry a digest without the critic
(evals/bench/runner.py). Before a later level runs, their records are copied from the first level
(their images hard-linked, or copied where links are not possible) and each copy's timings say
``reused_from``; the level then reads them back as finished results. sweep.json lists what was
reused. The engine is loaded once and remembers the images it made (evals/bench/memo.py): best-of-n's
samples and every method's first image are made at the first level only. The exact judge's cached
verdicts are shared too.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.critics.registry import make_critic
from evals.bench.config import SWEEP_FILE, BenchConfig, check_policy
from evals.bench.errors import BenchError
from evals.bench.judge import ExactJudge
from evals.bench.memo import SharedImages
from evals.bench.methods import describe, uses
from evals.bench.records import RECORDS_DIR, record_path, write_result
from evals.bench.runner import VERSION, BenchResult, load_engine, run_bench
from tools.errors import InputError

NOISE_OPTIONS = ("yes", "near", "seed")  # agent/critics/noisy.py


def level_label(rate: float) -> str:
    return f"{rate:g}"


def level_folder(rate: float) -> str:
    return f"noise-{level_label(rate)}"


@dataclass
class SweepConfig:
    bench: BenchConfig  # every setting of each level's benchmark but the critic (and --out: the sweep's)
    levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)  # critic error rates
    noise_options: str = ""  # OPTION=VALUE,... for every noisy level, e.g. yes=0.7,near=2

    def __post_init__(self) -> None:
        self.levels = tuple(float(r) for r in self.levels)
        self.noise_options = (self.noise_options or "").strip()

    def spec(self, rate: float) -> str:
        """The driving critic of a level."""
        if rate == 0:
            return "scene"
        return f"noisy:{level_label(rate)}" + (f",{self.noise_options}" if self.noise_options else "")

    def level_config(self, rate: float) -> BenchConfig:
        return replace(self.bench, critic=self.spec(rate), out=self.bench.out / level_folder(rate))

    def validate(self) -> None:
        if not self.levels:
            raise BenchError("--critic-noise takes critic error rates separated by commas, e.g. 0,0.1,0.2")
        bad = [r for r in self.levels if not 0 <= r <= 1]
        if bad:
            raise BenchError(f"--critic-noise rates are shares of wrong verdicts, 0 to 1; got {bad[0]:g}")
        labels = [level_label(r) for r in self.levels]
        if len(set(labels)) != len(labels):
            raise BenchError(f"--critic-noise gives a rate twice: {','.join(labels)}")
        if self.noise_options:
            for option in self.noise_options.split(","):
                name = option.partition("=")[0].strip()
                if ":" in option or name not in NOISE_OPTIONS or "=" not in option:
                    raise BenchError(f"--noise-options takes OPTION=VALUE pairs with OPTION one of "
                                     f"{', '.join(NOISE_OPTIONS)} (e.g. yes=0.7,near=2), got {option.strip()!r}")
            if all(r == 0 for r in self.levels):
                raise BenchError("--noise-options apply to noisy levels, but every --critic-noise rate is 0")
        if self.bench.critic_base_url:
            raise BenchError("--critic-base-url has no critic to go to in a sweep: its levels are driven by the "
                             "exact critic and noisy:RATE over it")
        if self.bench.critic_settings or self.bench.localiser:
            raise BenchError("--critic-option and --localiser have no critic to go to in a sweep: its levels are "
                             "driven by the exact critic and noisy:RATE over it")
        out = self.bench.out
        if out.exists() and not out.is_dir():
            raise BenchError(f"--out {out} is a file; give a folder (it is created if missing)")
        if (out / RECORDS_DIR).exists():
            raise BenchError(f"--out {out} holds a plain benchmark (records/); give the sweep its own folder")
        self.bench.agent_policy = check_policy(self.bench.agent_policy)
        for rate in self.levels:
            self.level_config(rate).validate()
            try:
                make_critic(self.spec(rate), **self.bench.critic_options())
            except InputError as exc:
                raise BenchError(f"--critic-noise {level_label(rate)} with --noise-options "
                                 f"{self.noise_options!r}: {exc}") from exc

    def command(self) -> str:
        levels = ",".join(level_label(r) for r in self.levels)
        noise = ["--critic-noise", levels] + (["--noise-options", self.noise_options] if self.noise_options else [])
        return shlex.join(["sculpt", "bench", *self.bench.args(noise)])


@dataclass
class SweepResult:
    results: dict[str, Any]  # sweep.json
    paths: dict[str, Path]
    levels: dict[str, BenchResult]  # level label -> that level's benchmark
    reused: int  # records copied from the first level instead of run again


def critic_free(methods: tuple[str, ...]) -> list[str]:
    return [m for m in methods if "critic" not in uses(m)]


def reuse_records(source: Path, target: Path, methods: list[str], brief_ids: list[str]) -> int:
    """Copy the finished records of ``methods`` (which use no critic) from one level to another,
    with the images they point to; records already at the target are left as they are."""
    copied = 0
    for method in methods:
        for brief_id in brief_ids:
            src, dst = record_path(source, method, brief_id), record_path(target, method, brief_id)
            if dst.exists() or not src.exists():
                continue
            try:
                data = json.loads(src.read_text())
                record, timings = data["record"], data["timings"]
            except (OSError, json.JSONDecodeError, KeyError) as exc:
                raise BenchError(f"{src} is unreadable ({exc}); delete it and rerun to redo that result") from exc
            for shot in record["shots"]:
                _link(source / shot["image"], target / shot["image"])
            write_result(dst, record, {**timings, "reused_from": source.name})
            copied += 1
    return copied


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # another file system, or links not allowed: a copy is as good
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def run_sweep(config: SweepConfig, engine=None) -> SweepResult:
    """Run (or resume) every level of the sweep, then write the combined results and reports."""
    from evals.bench.runner import make_briefs
    from evals.bench.sweep_report import write_sweep_reports

    config.validate()
    t_start = time.perf_counter()
    engine = SharedImages(load_engine(config.bench, engine))
    judge = ExactJudge()
    out = config.bench.out
    out.mkdir(parents=True, exist_ok=True)
    brief_ids = [b.id for b in make_briefs(config.bench.seed, config.bench.briefs, config.bench.difficulties)]
    shared = critic_free(config.bench.methods)
    first = config.level_config(config.levels[0]).out
    levels: dict[str, BenchResult] = {}
    rows: list[dict[str, Any]] = []  # what each level is (deterministic)
    # What depends on the clock and on how the run went, kept apart as in results.json: a level's
    # seconds count only what it ran (reused records cost it nothing, their timings are the first
    # level's; a remembered image costs no engine seconds), and records are copied only when a
    # level lacks them.
    clock: dict[str, dict[str, Any]] = {}
    for i, rate in enumerate(config.levels):
        level, label = config.level_config(rate), level_label(rate)
        reused = reuse_records(first, level.out, shared, brief_ids) if i else 0
        t0, hits, misses = time.perf_counter(), engine.hits, engine.misses
        result = levels[label] = run_bench(level, engine=engine, judge=judge)
        r = result.results
        rows.append({"rate": rate, "label": label, "critic": level.critic, "folder": level.out.name,
                     "command": r["command"], "settings_digest": r["settings"]["settings_digest"],
                     "method_digests": r["settings"]["method_digests"],
                     "reused": {"from": first.name, "methods": shared} if i and shared else None})
        clock[label] = {"seconds": round(time.perf_counter() - t0, 3), "reused_records": reused,
                        "resumed_results": result.resumed - reused,
                        "engine_calls": {"made": engine.misses - misses, "remembered": engine.hits - hits},
                        "aggregates": r["timings"]["aggregates"]}
    settings = {k: v for k, v in next(iter(levels.values())).results["settings"].items()
                if k not in ("critic", "settings_digest", "method_digests")}
    results = {
        "benchmark": "ShapesBench noise sweep", "version": VERSION, "command": config.command(),
        "settings": {**settings, "critic_noise": [r["rate"] for r in rows], "noise_options": config.noise_options,
                     "critics": {r["label"]: r["critic"] for r in rows}},
        "methods": {m: describe(m) for m in config.bench.methods},
        "levels": rows,
        "aggregates": {label: res.results["aggregates"] for label, res in levels.items()},
        "timings": {"total_s": round(time.perf_counter() - t_start, 3), "levels": clock},
    }
    paths = {"sweep": out / SWEEP_FILE}
    tmp = out / f".{SWEEP_FILE}.tmp"
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, paths["sweep"])
    paths.update(write_sweep_reports(results, out))
    return SweepResult(results=results, paths=paths, levels=levels,
                       reused=sum(c["reused_records"] for c in clock.values()))
