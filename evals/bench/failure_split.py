"""Why a method failed a brief, from a benchmark's records: was a correct image never made, or made
and not chosen — and, for the agent, did the budget run out in the middle of a move?

    python -m evals.bench.failure_split OUT [--method agent]

``OUT`` is a benchmark's ``--out`` (its ``results.json``) or a noise sweep's (every ``noise-*``
level). Every image a method made is judged by the exact critic in its record (``shots``), so:

* **never made**: no image of the run passes every requirement;
* **made, not chosen**: one did, and the answer is another — the driving critic rejected it, or
  ranked a wrong image above it;
* **mid-move**: the run's last action is a move whose chain the budget cut short. A move is only
  started when the budget covers all its steps (policy/stopping.fit_budget), so this stays 0; it is
  counted to prove it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.run_files import RunFolder
from tools.errors import InputError


def split(record: dict[str, Any], out: Path) -> str | None:
    """The failure's kind, or None for a success."""
    if record.get("all_correct"):
        return None
    shots = record.get("shots") or []
    if any((s.get("exact") or {}).get("ok") for s in shots):
        return "made, not chosen"
    run = (record.get("info") or {}).get("run")
    if run and _ended_mid_move(out / run):
        return "mid-move"
    return "never made"


def _ended_mid_move(run_dir: Path) -> bool:
    try:
        tree = RunFolder.read(run_dir).nodes
    except InputError:  # an unreadable run folder is not a move cut short
        return False
    made = [tree[i] for i in tree.ids() if tree[i].action is not None]
    last = max(made, key=lambda n: n.seq, default=None)
    if last is None or last.action.then is None:
        return False
    chained = sum(1 for n in made if n.step == last.step)
    return chained < last.action.generations


def levels(out: Path) -> list[tuple[str, Path]]:
    """(label, folder) of every benchmark under ``out``: itself, or a sweep's levels."""
    if (out / "results.json").is_file():
        return [("", out)]
    found = sorted(out.glob("noise-*/results.json"), key=lambda p: float(p.parent.name.removeprefix("noise-")))
    return [(p.parent.name.removeprefix("noise-"), p.parent) for p in found]


def table(out: Path, method: str = "agent") -> list[dict[str, Any]]:
    rows = []
    for label, folder in levels(out):
        records = [r for r in json.loads((folder / "results.json").read_text())["records"] if r["method"] == method]
        for difficulty in sorted({r["difficulty"] for r in records}):
            mine = [r for r in records if r["difficulty"] == difficulty]
            kinds = [split(r, folder) for r in mine]
            rows.append({"critic error": label or "-", "objects": difficulty, "briefs": len(mine),
                         "failed": sum(k is not None for k in kinds),
                         "never made": kinds.count("never made"), "made, not chosen": kinds.count("made, not chosen"),
                         "mid-move": kinds.count("mid-move")})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--method", default="agent")
    args = ap.parse_args(argv)
    rows = table(args.out, args.method)
    if not rows:
        print(f"no results.json in {args.out} or its noise-* levels", file=sys.stderr)
        return 2
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
