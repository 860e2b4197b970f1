"""``sculpt batch``: many briefs overnight, resumable, with a morning report."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress

from agent.cli.display import console
from agent.cli.errors import EXIT_CRITIC, EXIT_OK, EXIT_STOPPED, guarded
from agent.status import Status


def batch(
    briefs: Path = typer.Argument(..., help="one brief per line (or JSON lines with brief and seed)"),
    out_dir: Path = typer.Option(Path("batch"), "--out", help="the batch folder (reuse it to resume)"),
    model: Optional[str] = typer.Option(None, help="diffusers folder, single file or hub id"),
    critic: Optional[str] = typer.Option(None, help="scene, noisy:RATE, openai:MODEL, scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None),
    budget: Optional[int] = typer.Option(None, help="images per brief [default: 8]"),
    max_seconds: Optional[float] = typer.Option(None, help="wall-time budget per brief"),
    max_usd: Optional[float] = typer.Option(None, help="critic dollars per brief"),
    seed: int = typer.Option(0, help="seed of the first brief; the next ones count up"),
    steps: Optional[int] = typer.Option(None),
    guidance: Optional[float] = typer.Option(None),
) -> None:
    """Refine every brief in a file, one run folder each; rerun to resume; summary.html in the morning."""
    from agent.batch.briefs import read_briefs
    from agent.batch.serial import run_batch
    from agent.settings import load_settings, run_spec

    s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url, budget=budget,
                      max_seconds=max_seconds, max_usd=max_usd, steps=steps, guidance=guidance)
    items = read_briefs(briefs, seed)
    template = run_spec(s, "-", seed=seed)  # each brief fills in its own text and seed
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("briefs", total=len(items))

        def done(item, entry):
            progress.console.print(f"{item.key}: {entry['status']}"
                                   + (f" (score {entry['best_score']:.2f})" if entry.get("best_score") is not None
                                      else f" — {entry.get('error', '')}"))
            progress.advance(task)

        manifest = run_batch(briefs, out_dir, template, on_item=done)
    statuses = [manifest["items"].get(i.key, {}).get("status", "not run") for i in items]
    console.print(f"summary: {out_dir / 'summary.html'}")
    if Status.CRITIC_UNAVAILABLE in statuses:
        raise typer.Exit(EXIT_CRITIC)
    raise typer.Exit(EXIT_OK if all(st == Status.ACCEPTED for st in statuses) else EXIT_STOPPED)


def register(app: typer.Typer) -> None:
    app.command()(guarded(batch))
