"""What the terminal shows: one line per event as the agent works, and the result at the end."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.events import (BacktrackEvent, CritiqueEvent, DecideEvent, EnterEvent, Event, GenerateEvent, PlanEvent,
                          RewriteEvent, SelectEvent)
from agent.results import RunResult

console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def describe_event(e: Event) -> str | None:
    """One line of rich markup for an event, or None for events not worth a line."""
    if isinstance(e, PlanEvent):
        return f"[bold]plan[/] {len(e.checklist)} requirements · prompt: {escape(e.prompt)}"
    if isinstance(e, EnterEvent):
        return f"[bold]continue[/] — {escape(str(e.reason))}"
    if isinstance(e, DecideEvent):
        return f"[cyan]decide[/] {e.decision} — {escape(e.reason)}"
    if isinstance(e, GenerateEvent):
        if e.error:
            return f"  [red]{e.action} failed[/]: {escape(e.error)}"
        return (f"  generate {', '.join(e.nodes)} from {e.parent} "
                f"(seed {', '.join(map(str, e.seeds))}, {e.engine_seconds:.2f}s)")
    if isinstance(e, CritiqueEvent):
        if e.error:
            return f"  [red]critique {e.node_id} failed[/]: {escape(e.error)}"
        mark = "[green]✓[/]" if not e.failed else f"[red]✗ {', '.join(e.failed)}[/]"
        return f"  critique {e.node_id}: score {e.score:.2f} {mark}"
    if isinstance(e, SelectEvent):
        return f"  select {e.node_id or ''}: {e.outcome} — {escape(e.reason or '')}"
    if isinstance(e, BacktrackEvent):
        return f"  [yellow]backtrack[/] to {e.to} — {escape(e.reason or '')}"
    if isinstance(e, RewriteEvent) and not e.error:
        return f"  rewrite ({e.job}): {escape(e.prompt or '')}"
    return None


def progress_printer(quiet: bool = False):
    """An on_event callback printing one line per event."""
    def show(e: Event) -> None:
        line = None if quiet else describe_event(e)
        if line:
            console.print(line)
    return show


def verdict_label(v: dict) -> str:
    """pass/fail as the agent believes it, and where that overrules the critic, what the critic said."""
    label = "[green]pass[/]" if v["passed"] else "[red]fail[/]"
    if v.get("critic") is not None and v["critic"] != v["passed"]:
        label += f" (critic said {'pass' if v['critic'] else 'fail'}; overruled by redraws or the pixels)"
    return label


def print_result(res: RunResult) -> None:
    table = Table(title=f"best image {res.best or '—'}" + (f" · score {res.best_score:.2f}" if res.best else ""),
                  show_header=True)
    table.add_column("requirement")
    table.add_column("")
    for v in res.verdicts:
        table.add_row(escape(v["text"]), verdict_label(v))
    console.print(table)
    console.print(f"status: [bold]{res.status}[/]" + (f" — {escape(res.stop_reason)}" if res.stop_reason else ""))
    out.print(f"run id: {res.run_id}")
    out.print(f"run folder: {res.run_dir}")
    out.print(f"report: {res.run_dir / 'report.html'}")
    out.print(f"best image: {res.best_image if res.best_image else '—'}")
