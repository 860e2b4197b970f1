"""``sculpt bench``: the agent against compute-matched baselines on seeded shapes briefs.

With ``--critic-noise 0,0.1,...`` it runs a noise sweep instead (evals/bench/sweep.py): one
benchmark per critic error rate, in its own folder under --out, and a combined report.

Mounted on the main app through the ``sculpt.commands`` entry point. Errors become messages and
exit codes as for every command (agent/cli/errors.py): 2 for bad input, 4 when the critic could
not be reached (finished results are on disk; rerunning the same command resumes), 1 when a
method broke compute matching (a bug).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from evals.bench.methods import METHOD_NAMES


def _ints(text: str, what: str) -> tuple[int, ...]:
    from evals.bench.errors import BenchError

    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise BenchError(f"{what} takes whole numbers separated by commas (e.g. 1,2,3), got {text!r}") from None


def _floats(text: str, what: str) -> tuple[float, ...]:
    from evals.bench.errors import BenchError

    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise BenchError(f"{what} takes numbers separated by commas (e.g. 0,0.05,0.1,0.2), got {text!r}") from None


def _names(values: Optional[list[str]]) -> tuple[str, ...]:
    if not values:
        return METHOD_NAMES
    return tuple(p.strip() for v in values for p in v.split(",") if p.strip())


def bench(
    briefs: int = typer.Option(50, "--briefs", metavar="N", help="Briefs per difficulty."),
    difficulty: str = typer.Option(
        "2", "--difficulty", metavar="D[,D...]", help="Objects per brief, 1, 2 or 3; several comma-separated."),
    budget: int = typer.Option(
        8, "--budget", metavar="B", help="Images each method may make per brief (a batch of n counts n)."),
    methods: Optional[list[str]] = typer.Option(
        None, "--methods", metavar="M[,M...]",
        help=f"Methods to run, comma-separated or repeated (default: all): {', '.join(METHOD_NAMES)}."),
    critic: Optional[str] = typer.Option(
        None, "--critic", metavar="SPEC",
        help="The critic that drives the methods (default scene): scene, noisy:RATE[,OPTIONS], openai:MODEL, "
             "scripted:PATH. The exact scene critic always judges the results."),
    critic_noise: Optional[str] = typer.Option(
        None, "--critic-noise", metavar="R[,R...]",
        help="A noise sweep: run the benchmark once per critic error rate (0: the exact critic, r > 0: "
             "noisy:r), each in --out/noise-r/, and report them together. Not with --critic."),
    noise_options: Optional[str] = typer.Option(
        None, "--noise-options", metavar="OPT=V[,...]",
        help="Options of every noisy level of a sweep: yes=SHARE, near=WEIGHT, seed=INT (see noisy critic)."),
    agent_policy: Optional[str] = typer.Option(
        None, "--agent-policy", metavar="KEY=VALUE[,...]",
        help="Run the agent with these policy settings (agent/policy/config.py), e.g. retries=1,stagnation_k=9."),
    critic_base_url: Optional[str] = typer.Option(
        None, "--critic-base-url", metavar="URL", help="OpenAI-compatible server for an openai: critic."),
    critic_option: Optional[list[str]] = typer.Option(
        None, "--critic-option", metavar="KEY=VALUE",
        help="A setting of the driving critic, repeatable (hf: mode=vqa|judge, device, dtype, threshold...)."),
    localiser: Optional[str] = typer.Option(
        None, "--localiser", metavar="SPEC", help="hf:PATH_OR_ID: the agent's localiser (a detector or a "
                                                  "VLM with <loc> tokens)."),
    seed: int = typer.Option(0, "--seed", metavar="S", help="Seeds the briefs and every image."),
    out: Path = typer.Option(
        Path("bench-out"), "--out", metavar="DIR",
        help="Output folder: results.json, report.md, report.html, per-result files, agent runs."),
    model: str = typer.Option(
        "shapes", "--model", metavar="PATH", help="diffusers folder, single file or hub id; shapes = built in."),
    steps: Optional[int] = typer.Option(
        None, "--steps", metavar="K", help="Denoising steps (default: the model's recommended)."),
    loopback_initial: float = typer.Option(0.5, "--loopback-initial", help="Loopback: first img2img strength."),
    loopback_final: float = typer.Option(0.3, "--loopback-final", help="Loopback: last img2img strength."),
    loopback_curve: str = typer.Option(
        "linear", "--loopback-curve", help="Loopback strength curve: linear, aggressive, lazy (as in A1111)."),
    examples: int = typer.Option(6, "--examples", metavar="N", help="Agent trees shown in report.html."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run every method on the same seeded briefs with the same engine, image budget and seeds; judge
    every answer exactly; report all-correct rates, success versus budget and the agent's costs. With
    --critic-noise, one such benchmark per critic error rate and a report of them together.
    Rerunning the same command after a kill continues where it stopped."""
    # Imported here so that mounting the command costs other sculpt commands nothing.
    from evals.bench.config import parse_policy
    from evals.bench.errors import BenchError
    from evals.bench.methods import LoopbackOptions
    from evals.bench.report import pct
    from agent.settings import parse_options
    from evals.bench.runner import BenchConfig, run_bench

    if critic_noise is not None and critic is not None:
        raise BenchError("--critic-noise and --critic cannot be used together: a sweep drives each level with "
                         "its own critic (scene at 0, noisy:RATE above); give one or the other")
    if noise_options is not None and critic_noise is None:
        raise BenchError("--noise-options applies to the levels of a --critic-noise sweep; for one noisy "
                         "benchmark put the options in the spec: --critic noisy:0.1,yes=0.7")
    config = BenchConfig(
        briefs=briefs, difficulties=_ints(difficulty, "--difficulty"), budget=budget, methods=_names(methods),
        critic=critic or "scene", critic_base_url=critic_base_url,
        critic_settings=parse_options(critic_option) or {}, localiser=localiser, seed=seed, out=out, model=model,
        steps=steps,
        loopback=LoopbackOptions(initial=loopback_initial, final=loopback_final, curve=loopback_curve),
        agent_policy=parse_policy(agent_policy), examples=examples, show_progress=progress)
    if critic_noise is not None:
        _sweep(config, _floats(critic_noise, "--critic-noise"), noise_options or "")
        return
    result = run_bench(config)
    agg = result.results["aggregates"]
    table = Table(title=f"ShapesBench · budget {budget} images")
    for col in ("method", "difficulty", "all-correct [95% CI]", "calls to success (mean)"):
        table.add_column(col)
    for m, cols in agg.items():
        for c, a in cols.items():
            mean = a["calls_to_success"]["mean"]
            table.add_row(m, c, pct(a["all_correct"]), "n/a" if mean is None else f"{mean:.1f}")
    Console().print(table)
    console = Console(stderr=True)
    if result.resumed:
        console.print(f"{result.resumed} result(s) read back from an earlier run")
    for name, path in result.paths.items():
        console.print(f"{name}: {path}")


def _sweep(config, levels: tuple[float, ...], noise_options: str) -> None:
    from evals.bench.report import pct
    from evals.bench.sweep import SweepConfig, run_sweep

    result = run_sweep(SweepConfig(bench=config, levels=levels, noise_options=noise_options))
    by_level = result.results["aggregates"]
    table = Table(title=f"ShapesBench noise sweep · budget {config.budget} images · all-correct [95% CI]")
    table.add_column("method")
    table.add_column("difficulty")
    for label in by_level:
        table.add_column(f"critic error {label}")
    first = next(iter(by_level.values()))
    for m, cols in first.items():
        for c in cols:
            table.add_row(m, c, *(pct(by_level[lv][m][c]["all_correct"]) for lv in by_level))
    Console().print(table)
    console = Console(stderr=True)
    timings = result.results["timings"]["levels"]
    for level in result.results["levels"]:
        t = timings[level["label"]]
        notes = []
        if t["reused_records"]:
            reused = level["reused"]
            notes.append(f"{t['reused_records']} result(s) of {', '.join(reused['methods'])} reused from "
                         f"{reused['from']}")
        notes += [f"{t['resumed_results']} result(s) read back from an earlier run"] if t["resumed_results"] else []
        remembered = t["engine_calls"]["remembered"]
        notes += [f"{remembered} engine call(s) answered with images an earlier level made"] if remembered else []
        note = f" ({'; '.join(notes)})" if notes else ""
        console.print(f"level {level['label']} ({level['critic']}): {config.out / level['folder']}{note}")
    for name, path in result.paths.items():
        console.print(f"{name}: {path}")


def register(app: typer.Typer) -> None:
    """Add ``bench`` to a Typer app (the ``sculpt.commands`` entry point)."""
    from agent.cli.errors import guarded

    app.command("bench")(guarded(bench))
