"""The morning report of a batch: summary.html (a contact sheet, the table, totals and the worker
timeline), summary.md, and summary.png (the contact sheet alone, for a glance). Written after every
finished brief, so it can be opened while the night runs; what needs a person comes first."""
from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.batch.briefs import BatchItem
from agent.batch.contact import write_contact_sheet
from agent.status import Status
from tools.files import atomic_write

_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))

# What a person should look at first: briefs that went wrong, then those that stopped short of an
# accepted image, then what is still running, the accepted ones, and last what never started.
_TONE = {Status.FAILED: "bad", Status.INVALID: "bad", Status.CRITIC_FAILED: "bad", Status.CRITIC_UNAVAILABLE: "bad",
         Status.BUDGET: "short", Status.PLATEAU: "short", Status.EXHAUSTED: "short", Status.STOPPED: "short",
         Status.RUNNING: "running", Status.ACCEPTED: "good", Status.QUEUED: "idle"}
_ORDER = ["bad", "short", "running", "good", "idle"]


def tone(status: str) -> str:
    return _TONE.get(status, "idle")  # type: ignore[call-overload]


def report_rows(entries: dict[str, dict], items: list[BatchItem], left_reason: str | None = None) -> list[dict]:
    """One row per brief, most urgent first; a brief that never started says why."""
    rows = []
    for item in items:
        entry = entries.get(item.key) or {"status": Status.QUEUED.value,
                                          "reason": left_reason or "not started yet"}
        rows.append({"key": item.key, "index": item.index, "brief": item.brief, **entry,
                     "tone": tone(entry["status"])})
    return sorted(rows, key=lambda r: (_ORDER.index(r["tone"]), r["index"]))


def totals(rows: list[dict], now: float) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    starts = [r["started"] for r in rows if r.get("started")]
    ends = [r.get("finished") or now for r in rows if r.get("started")]
    wall = (max(ends) - min(starts)) if starts else 0.0
    images = sum(int(r.get("generations") or 0) for r in rows)
    return {"counts": dict(sorted(counts.items())), "briefs": len(rows), "images": images,
            "usd": sum(float(r.get("usd") or 0.0) for r in rows), "wall": wall,
            "per_minute": images / (wall / 60) if wall > 0 else 0.0,
            "undone": [r for r in rows if r["status"] == Status.QUEUED]}


def timeline(rows: list[dict], now: float) -> dict:
    """Which worker ran what, when: one lane per worker, one bar per attempt (crashed ones too),
    placed in percent of the night so the page needs no script."""
    bars = []
    for r in rows:
        for a in r.get("attempts", []):
            bars.append({**a, "key": r["key"], "tone": "bad", "label": f"{r['key']}: worker died"})
        if r.get("started") and r.get("worker"):
            bars.append({"worker": r["worker"], "started": r["started"], "finished": r.get("finished") or now,
                         "key": r["key"], "tone": r["tone"], "label": f"{r['key']}: {r['status']}"})
    if not bars:
        return {"lanes": [], "ticks": []}
    t0 = min(b["started"] for b in bars)
    span = max(max(b["finished"] for b in bars) - t0, 1e-6)
    lanes: dict[str, list[dict]] = {}
    for b in sorted(bars, key=lambda b: b["started"]):
        left = 100 * (b["started"] - t0) / span
        lanes.setdefault(b["worker"], []).append({
            **b, "left": round(left, 3), "width": round(max(100 * (b["finished"] - b["started"]) / span, 0.4), 3),
            "title": f"{b['label']} · {b['finished'] - b['started']:.1f} s"})
    step = _tick_step(span)
    ticks = [{"left": round(100 * s / span, 3), "label": _clock(s)} for s in _frange(0, span, step)]
    return {"lanes": [{"name": k, "bars": v} for k, v in sorted(lanes.items())], "ticks": ticks}


def _tick_step(span: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if span / step <= 8:
            return step
    return 14400


def _frange(start: float, stop: float, step: float):
    x = start
    while x <= stop + 1e-9:
        yield x
        x += step


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def write_morning_report(out: Path, entries: dict[str, dict], items: list[BatchItem], *,
                         night: dict | None = None, now: float | None = None) -> None:
    """summary.html, summary.md and summary.png in ``out``. ``night``: the night's budgets
    (``limits``) and, once no new brief may start, why (``stopped``)."""
    now = now or time.time()
    night = night or {}
    rows = report_rows(entries, items, night.get("stopped"))
    sums = totals(rows, now)
    lines = ["# sculpt batch", "", " · ".join(f"{k}: {v}" for k, v in sums["counts"].items()), "",
             "| # | brief | status | score | images | best image |", "|---|---|---|---|---|---|"]
    for r in rows:
        score = f"{r['best_score']:.2f}" if r.get("best_score") is not None else "—"
        lines.append(f"| {r['key'][:3]} | {r['brief']} | {r['status']} | {score} | {r.get('generations', '—')} | "
                     f"{r.get('best_image') or r.get('error') or r.get('reason') or '—'} |")
    if night.get("stopped"):
        lines += ["", f"Stopped early: {night['stopped']}; {len(sums['undone'])} briefs left undone."]
    atomic_write(out / "summary.md", "\n".join(lines) + "\n")
    write_contact_sheet(out, rows, out / "summary.png")
    html = _ENV.get_template("batch.html.j2").render(
        rows=rows, totals=sums, night=night, timeline=timeline(rows, now), sheet="summary.png",
        written=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)))
    atomic_write(out / "summary.html", html)
