"""Compare the agent's trees of two ShapesBench runs, brief by brief.

    python -m evals.bench.compare_trees BEFORE_OUT AFTER_OUT [--show 5]

Two runs of the same benchmark command must grow the same trees unless a decision rule changed:
the same nodes, parents, actions (kind, strength, n, regions, prompt), seeds and images (by
content hash). This prints the briefs whose trees differ and the first difference in each, so a
restructure can prove it changed nothing and a rule change can show exactly where it acted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent.run_files import read_tree

AGENT_RUNS = "agent-runs"


def _action_facts(action: dict[str, Any] | None) -> dict[str, Any]:
    a = action or {}
    return {"kind": a.get("kind"), "strength": a.get("strength"), "n": a.get("n"),
            "regions": a.get("regions") or [], "prompt": a.get("prompt")}


def tree_facts(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Every imaged node in creation order, with what made it."""
    nodes = tree.get("nodes") or {}
    imaged = [n for n in nodes.values() if n.get("image")]
    imaged.sort(key=lambda n: n.get("seq", 0) or int(str(n["id"])[1:]))
    return [{"id": n["id"], "parent": n.get("parent"), "seed": n.get("seed"), "image": n.get("image_hash"),
             "outcome": n.get("outcome"), **_action_facts(n.get("action"))} for n in imaged]


def load_trees(out: Path) -> dict[str, list[dict[str, Any]]]:
    runs = out / AGENT_RUNS
    if not runs.is_dir():
        raise SystemExit(f"{out} has no {AGENT_RUNS}/ folder: give the --out folder of a sculpt bench run "
                         "that included the agent method")
    trees = {}
    for path in sorted(runs.glob("*/tree.json")):
        trees[path.parent.name] = tree_facts(read_tree(path.parent).to_json())
    return trees


def first_difference(a: list[dict], b: list[dict]) -> str | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            keys = [k for k in x if x.get(k) != y.get(k)]
            return f"image {i + 1} ({x['id']} vs {y['id']}): " + "; ".join(
                f"{k} {x.get(k)!r} -> {y.get(k)!r}" for k in keys)
    if len(a) != len(b):
        return f"{len(a)} images before, {len(b)} after"
    return None


def compare(before: Path, after: Path) -> tuple[int, dict[str, str]]:
    a, b = load_trees(before), load_trees(after)
    diffs: dict[str, str] = {}
    for brief in sorted(set(a) | set(b)):
        if brief not in a or brief not in b:
            diffs[brief] = "only in " + ("before" if brief in a else "after")
            continue
        d = first_difference(a[brief], b[brief])
        if d:
            diffs[brief] = d
    return len(set(a) | set(b)), diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--show", type=int, default=10, help="differences to print")
    args = ap.parse_args(argv)
    total, diffs = compare(args.before, args.after)
    print(f"{total - len(diffs)} of {total} trees identical (nodes, parents, actions, seeds, images)")
    for brief, what in list(diffs.items())[: args.show]:
        print(f"  {brief}: {what}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
