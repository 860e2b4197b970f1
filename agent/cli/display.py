"""What the terminal shows: one line per event as the agent works, and the result at the end, in the
words agent/wording.py gives them (the studio's chat and the tree report say the same)."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.events import BacktrackEvent, CritiqueEvent, DecideEvent, Event, GenerateEvent, SelectEvent
from agent.results import RunResult
from agent.wording import Words

console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def describe_event(e: Event, words: Words | None = None) -> str | None:
    """One line of rich markup for an event, or None for events not worth a line."""
    line = (words or Words()).event(e)
    if line is None:
        return None
    text = escape(line)
    if isinstance(e, DecideEvent):
        return f"[cyan]{text}[/]"
    if isinstance(e, GenerateEvent) and (e.error or e.cancelled):
        return f"  [red]{text}[/]"
    if isinstance(e, CritiqueEvent):
        return f"  {text}" if not e.failed and not e.error else f"  [red]{text}[/]"
    if isinstance(e, BacktrackEvent):
        return f"  [yellow]{text}[/]"
    if isinstance(e, SelectEvent) and (e.amendment or e.question):
        return f"  [magenta]{text}[/]"
    return text if e.node in ("plan", "enter", "finish") else f"  {text}"


def progress_printer(quiet: bool = False, words: Words | None = None):
    """An on_event callback printing one line per event (``words``: what a resumed run already said)."""
    words = words or Words()

    def show(e: Event) -> None:
        line = describe_event(e, words)  # every event teaches the words later lines need
        if line and not quiet:
            console.print(line)
    return show


def words_of(run_dir) -> Words | None:
    """What a run folder has said so far, for a resumed run's lines (None where it cannot be read:
    opening the run says why)."""
    try:
        return Words.of_folder(run_dir)
    except Exception:
        return None


def verdict_label(v: dict) -> str:
    """pass/fail as the agent believes it, and where that overrules the critic, what the critic said;
    a requirement the critic cannot judge (its card, agent/critics/card.py) says so."""
    if v.get("judged", True) is False:
        return "[dim]not judged[/]"
    label = "[green]pass[/]" if v["passed"] else "[red]fail[/]"
    if v.get("critic") is not None and v["critic"] != v["passed"]:
        label += f" (critic said {'pass' if v['critic'] else 'fail'}; overruled by redraws or the pixels)"
    return label


def print_result(res: RunResult) -> None:
    words = Words.of(res.state.get("checklist", []), nodes=res.state.get("nodes"))
    picked = res.state.get("picked")
    title = f"best image {res.best or '—'}" + (f" · score {res.best_score:.2f}" if res.best else "")
    if picked and picked == res.best:
        title += " · your pick"
    table = Table(title=title, show_header=True)
    table.add_column("requirement")
    table.add_column("")
    for v in res.verdicts:
        table.add_row(escape(v["text"]), verdict_label(v))
    console.print(table)
    console.print(f"status: [bold]{escape(words.status(res.status.value))}[/]" +
                  (f" — {escape(words.reason(res.stop_reason))}" if res.stop_reason else ""))
    out.print(f"run id: {res.run_id}")
    out.print(f"run folder: {res.run_dir}")
    out.print(f"report: {res.run_dir / 'report.html'}")
    out.print(f"best image: {res.best_image if res.best_image else '—'}")
