"""The morning report of a batch: summary.md and summary.html, most urgent first."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.batch.briefs import BatchItem
from tools.files import atomic_write

_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))


def write_morning_report(out: Path, entries: dict[str, dict], items: list[BatchItem]) -> None:
    rows = [{"key": i.key, "brief": i.brief, **entries.get(i.key, {"status": "not run"})} for i in items]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines = ["# sculpt batch", "", " · ".join(f"{k}: {v}" for k, v in sorted(counts.items())), "",
             "| # | brief | status | score | images | best image |", "|---|---|---|---|---|---|"]
    for r in rows:
        score = f"{r['best_score']:.2f}" if r.get("best_score") is not None else "—"
        lines.append(f"| {r['key'][:3]} | {r['brief']} | {r['status']} | {score} | {r.get('generations', '—')} | "
                     f"{r.get('best_image') or r.get('error', '—')} |")
    atomic_write(out / "summary.md", "\n".join(lines) + "\n")
    atomic_write(out / "summary.html", _ENV.get_template("batch.html.j2").render(rows=rows, counts=counts))
