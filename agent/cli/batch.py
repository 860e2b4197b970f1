"""``sculpt batch``: many briefs overnight, in this process or spread over Ray workers, resumable,
with night budgets, live progress and a morning report."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from agent.cli.display import console
from agent.cli.options import CRITIC_OPTION_HELP, LOCALISER_HELP
from agent.cli.errors import EXIT_CRITIC, EXIT_OK, EXIT_STOPPED, guarded

RAY_LOG = "ray.log"  # in the batch folder: what Ray itself printed during the night
from agent.status import Status


def batch(
    briefs: Path = typer.Argument(..., help="one brief per line (or JSON lines with brief and seed)"),
    out_dir: Path = typer.Option(Path("batch"), "--out", help="the batch folder (reuse it to resume; on a "
                                 "cluster, a path every machine sees)"),
    model: Optional[str] = typer.Option(None, help="diffusers folder, single file or hub id"),
    critic: Optional[str] = typer.Option(None, help="scene, noisy:RATE, openai:MODEL, hf:PATH_OR_ID, scripted:PATH"),
    critic_base_url: Optional[str] = typer.Option(None),
    critic_option: Optional[list[str]] = typer.Option(None, "--critic-option", metavar="KEY=VALUE",
                                                     help=CRITIC_OPTION_HELP),
    localiser: Optional[str] = typer.Option(None, "--localiser", metavar="SPEC", help=LOCALISER_HELP),
    budget: Optional[int] = typer.Option(None, help="images per brief (default 8)"),
    max_seconds: Optional[float] = typer.Option(None, help="wall-time budget per brief"),
    max_usd: Optional[float] = typer.Option(None, help="critic dollars per brief"),
    seed: int = typer.Option(0, help="seed of the first brief; the next ones count up"),
    steps: Optional[int] = typer.Option(None),
    guidance: Optional[float] = typer.Option(None),
    workers: Optional[int] = typer.Option(None, help="run on N Ray workers on this machine (with --ray: N "
                                          "workers on the cluster; by default there, one per GPU)"),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="join a Ray cluster: auto (the one `ray start` "
                                              "made here) or its address host:port"),
    cpus_per_worker: Optional[int] = typer.Option(None, help="CPUs (torch threads) per worker (by default the "
                                                  "cores split evenly; 1 beside a GPU)"),
    total_usd: Optional[float] = typer.Option(None, help="night budget: critic dollars over all briefs"),
    total_seconds: Optional[float] = typer.Option(None, help="night budget: wall time of this command"),
    total_images: Optional[int] = typer.Option(None, help="night budget: images over all briefs"),
) -> None:
    """Refine every brief in a file, one run folder each; rerun to resume; summary.html in the morning."""
    from agent.batch.briefs import read_briefs
    from agent.batch.night import NightBudget
    from agent.components import build_critic
    from agent.settings import load_settings, parse_options, run_spec

    s = load_settings(model=model, critic=critic, critic_base_url=critic_base_url,
                      critic_options=parse_options(critic_option), localiser=localiser, budget=budget,
                      max_seconds=max_seconds, max_usd=max_usd, steps=steps, guidance=guidance)
    items = read_briefs(briefs, seed)
    template = run_spec(s, "-", seed=seed)  # each brief fills in its own text and seed
    night = NightBudget(usd=total_usd, seconds=total_seconds, images=total_images)
    build_critic(template)  # a bad critic spec fails now, not on every worker
    if workers is None and ray_address is None:  # in this process, as always: Ray is not even imported
        manifest = _serial(briefs, out_dir, template, night, len(items))
    else:
        manifest = _on_ray(briefs, out_dir, template, night, workers, ray_address, cpus_per_worker)
    statuses = [manifest["items"].get(i.key, {}).get("status", "not run") for i in items]
    if stopped := manifest.get("night", {}).get("stopped"):
        console.print(f"[yellow]stopped early[/]: {escape(stopped)}")
    console.print(f"summary: {out_dir / 'summary.html'}")
    if Status.CRITIC_UNAVAILABLE in statuses:
        raise typer.Exit(EXIT_CRITIC)
    raise typer.Exit(EXIT_OK if all(st == Status.ACCEPTED for st in statuses) else EXIT_STOPPED)


def _line(item, entry: dict) -> str:
    detail = (f" (score {entry['best_score']:.2f})" if entry.get("best_score") is not None
              else f" — {entry.get('error', '')}")
    worker = f" [dim]{entry['worker']}[/]" if entry.get("worker") and entry["worker"] != "in process" else ""
    return f"{item.key}: {entry['status']}{escape(detail)}{worker}"


def _serial(briefs: Path, out_dir: Path, template, night, total: int) -> dict:
    from agent.batch.serial import run_batch

    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("briefs", total=total)

        def done(item, entry):
            progress.console.print(_line(item, entry))
            progress.advance(task)

        return run_batch(briefs, out_dir, template, night=night, on_item=done)


def _on_ray(briefs: Path, out_dir: Path, template, night, workers, address, cpus_per_worker) -> dict:
    from agent.batch.distributed import run_batch_on_ray
    from agent.batch.pool import shutdown, start_pool

    console.print("starting Ray workers…" if address is None else f"joining the Ray cluster at {address}…")
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / RAY_LOG
    with ray_output_to(log) as terminal:
        live_console = Console(file=terminal, highlight=False, soft_wrap=True)
        pool, started = start_pool(template, workers=workers, address=address, cpus_per_worker=cpus_per_worker)
        t0 = time.time()
        try:
            with Live(Table(), console=live_console, refresh_per_second=4, transient=False,
                      redirect_stdout=False, redirect_stderr=False) as live:
                def show(snap) -> None:
                    for item, entry in snap.finished:
                        live.console.print(_line(item, entry))
                    live.update(_render(snap, time.time() - t0))

                try:
                    return run_batch_on_ray(briefs, out_dir, template, pool, night=night, on_progress=show)
                finally:
                    live.stop()
                    live_console.print()  # the live table's last line stays; what follows starts below it
        finally:
            pool.close()
            if started:
                shutdown()


@contextmanager
def ray_output_to(log: Path):
    """While Ray runs, what it writes to this process's stdout and stderr (its C++ core and its log
    monitor write to the file descriptors directly, mid-line) goes to ``log``; yields a file on the
    terminal's stderr for sculpt's own live table, which nothing else then writes into."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    with log.open("a") as f:
        for fd in (1, 2):
            os.dup2(f.fileno(), fd)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        terminal.close()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _render(snap, elapsed: float) -> Group:
    """Briefs done / running / queued, each worker's brief, accepted so far, spend against the
    night's budgets, and images per minute."""
    limits = snap.limits
    spend = [f"images {snap.spent.images}" + (f" of {limits['images']:g}" if "images" in limits else ""),
             f"${snap.spent.usd:.2f}" + (f" of ${limits['usd']:g}" if "usd" in limits else ""),
             _clock(elapsed) + (f" of {_clock(limits['seconds'])}" if "seconds" in limits else "")]
    head = (f"[bold]{snap.done}/{snap.total} done[/] · {snap.running} running · {snap.queued} queued · "
            f"[green]{snap.accepted} accepted[/]\n{' · '.join(spend)} · {snap.per_minute:.1f} images/min")
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for col in ("worker", "state", "brief", "for", "done"):
        table.add_column(col)
    now = time.time()
    for w in snap.workers:
        state = {"busy": "[cyan]running[/]", "restarting": "[yellow]restarting[/]", "dead": "[red]gone[/]"}.get(
            w.state, w.state)
        table.add_row(w.name + (f" [dim]{escape(w.host)}[/]" if w.host else ""), state,
                      escape(w.item.key) if w.item else "—",
                      f"{now - w.since:.0f} s" if w.state == "busy" else "", str(w.done))
    parts = [head, table]
    if snap.stopped:
        parts.append(f"[yellow]no new briefs: {escape(snap.stopped)}[/]")
    return Group(*parts)


def register(app: typer.Typer) -> None:
    app.command()(guarded(batch))
