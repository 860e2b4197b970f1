"""``sculpt eval-critic``: how often critics agree with people on a preference dataset.

Mounted on the main app through the ``sculpt.commands`` entry point. Errors become messages and
exit codes as for every command (agent/cli/errors.py): 2 for bad input, 4 when the critic could
not be reached (finished judgements are cached; rerunning resumes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from evals.critic_eval.loaders import FORMATS

_FORMATS_HELP = ", ".join(FORMATS)


def eval_critic(
    dataset: Path = typer.Option(
        ..., "--dataset", metavar="PATH", help="Dataset file, or a folder of files (see --split)."),
    dataset_format: str = typer.Option(
        ..., "--format", metavar="FORMAT", help=f"Dataset format: {_FORMATS_HELP}."),
    critic: list[str] = typer.Option(
        ..., "--critic", metavar="SPEC",
        help="Critic spec, repeatable: scene, scripted:first, scripted:PATH, openai:MODEL, clip:PATH, hf:PATH_OR_ID."),
    critic_option: Optional[list[str]] = typer.Option(
        None, "--critic-option", metavar="KEY=VALUE",
        help="A setting given to every --critic, repeatable (e.g. mode=vqa, base_url=URL, device=cuda:1)."),
    limit: Optional[int] = typer.Option(
        None, "--limit", metavar="N", help="Judge at most N pairs (read in file order)."),
    split: Optional[str] = typer.Option(
        None, "--split", metavar="S", help="With a folder: read only this split's files (test, validation...)."),
    out: Path = typer.Option(
        Path("critic-eval"), "--out", metavar="DIR",
        help="Folder for metrics.json, report.md, report.html, pairs.jsonl and the judgement cache."),
    concurrency: int = typer.Option(4, "--concurrency", metavar="K", help="Critic calls in flight at once."),
    seed: int = typer.Option(
        0, "--seed", metavar="S", help="Seeds the validation/test split, order shuffles and bootstrap."),
    image_root: Optional[Path] = typer.Option(
        None, "--image-root", metavar="PATH",
        help="Folder that relative image paths are resolved against (default: next to the dataset file)."),
    val_fraction: float = typer.Option(
        0.5, "--val-fraction", metavar="F",
        help="Share of prompts used to tune scorer tie thresholds; three-way accuracy is reported on the rest."),
    bootstrap: int = typer.Option(
        1000, "--bootstrap", metavar="N", help="Bootstrap resamples for 95% intervals (0: none)."),
    cache: Optional[Path] = typer.Option(
        None, "--cache", metavar="FILE",
        help="Judgement cache (default: OUT/judgements.sqlite); reruns and resumed runs read it."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Judge every pair of a human-preference dataset in both orders with each critic, and report
    agreement (three tie policies, bootstrap intervals), position bias, failures, latency and cost."""
    # Imported here so that mounting the command costs other sculpt commands nothing.
    from agent.settings import parse_options
    from evals.critic_eval.evaluation import EvalConfig, evaluate
    from evals.critic_eval.report import fmt

    console = Console(stderr=True)
    config = EvalConfig(dataset=dataset, format=dataset_format, critics=list(critic),
                        critic_options=parse_options(critic_option) or {}, out=out, limit=limit,
                        split=split, image_root=image_root, concurrency=concurrency, seed=seed,
                        val_fraction=val_fraction, bootstrap=bootstrap, cache=cache if cache else True,
                        show_progress=progress)
    result = evaluate(config)
    data = result.metrics["dataset"]
    table = Table(title=f"{data['pairs']} pairs, {data['prompts']} prompts")
    for col in ("critic", "(1) no ties", "(2) with ties", "(3) three-way", "flip rate", "parse failures"):
        table.add_column(col)
    for c in result.metrics["critics"]:
        acc = c["accuracy"]
        rate = c["failures"]["rate"]
        table.add_row(c["label"], fmt(acc["no_ties"], 2), fmt(acc["with_ties"], 2), fmt(acc["pickscore"], 2),
                      fmt(c["position"]["flip_rate"], 2), "n/a" if rate is None else f"{rate:.1%}")
    Console().print(table)
    for name, path in result.paths.items():
        console.print(f"{name}: {path}")


def register(app: typer.Typer) -> None:
    """Add ``eval-critic`` to a Typer app (the ``sculpt.commands`` entry point)."""
    from agent.cli.errors import guarded

    app.command("eval-critic")(guarded(eval_critic))
