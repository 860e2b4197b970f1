"""``sculpt bench``: the agent against compute-matched baselines on seeded shapes briefs.

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
    critic: str = typer.Option(
        "scene", "--critic", metavar="SPEC",
        help="The critic that drives the methods: scene, openai:MODEL, scripted:PATH. The exact scene "
             "critic always judges the results."),
    critic_base_url: Optional[str] = typer.Option(
        None, "--critic-base-url", metavar="URL", help="OpenAI-compatible server for an openai: critic."),
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
    every answer exactly; report all-correct rates, success versus budget and the agent's costs.
    Rerunning the same command after a kill continues where it stopped."""
    # Imported here so that mounting the command costs other sculpt commands nothing.
    from evals.bench.methods import LoopbackOptions
    from evals.bench.report import pct
    from evals.bench.runner import BenchConfig, run_bench

    config = BenchConfig(
        briefs=briefs, difficulties=_ints(difficulty, "--difficulty"), budget=budget, methods=_names(methods),
        critic=critic, critic_base_url=critic_base_url, seed=seed, out=out, model=model, steps=steps,
        loopback=LoopbackOptions(initial=loopback_initial, final=loopback_final, curve=loopback_curve),
        examples=examples, show_progress=progress)
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


def register(app: typer.Typer) -> None:
    """Add ``bench`` to a Typer app (the ``sculpt.commands`` entry point)."""
    from agent.cli.errors import guarded

    app.command("bench")(guarded(bench))
