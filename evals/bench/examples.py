"""Example briefs for report.html: every method's answer side by side, and the agent's tree.

The tree is rebuilt from the agent record's images (each knows its node and parent), so the
report needs nothing but results.json and the image files it points to.
"""
from __future__ import annotations

from typing import Any


def pick_examples(records: list[dict], n: int) -> list[str]:
    """Up to n brief ids that have an agent record, taken in turn from each difficulty."""
    by_difficulty: dict[int, list[str]] = {}
    for r in records:
        if r["method"] == "agent":
            by_difficulty.setdefault(r["difficulty"], []).append(r["brief_id"])
    picked: list[str] = []
    queues = [list(v) for _, v in sorted(by_difficulty.items())]
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def edge_label(shot: dict[str, Any]) -> str:
    bits = [shot["task"]]
    if shot.get("strength") is not None and shot["task"] != "inpaint":
        bits.append(f"{shot['strength']:g}")
    return " ".join(bits)


def agent_tree(record: dict) -> list[dict[str, Any]]:
    """The agent's tree as nested dicts (children of the brief first), best node marked."""
    best = record["shots"][record["final"]]["node"] if record["final"] is not None else None
    nodes = {s["node"]: {"id": s["node"], "image": s["image"], "edge": edge_label(s), "ok": s["exact"]["ok"],
                         "score": s["score"], "seed": s["seed"], "best": s["node"] == best, "children": []}
             for s in record["shots"]}
    roots = []
    for s in record["shots"]:  # in the order made, so children appear in order
        parent = nodes.get(s.get("parent"))
        (parent["children"] if parent else roots).append(nodes[s["node"]])
    return roots


def examples(records: list[dict], methods: list[str], n: int) -> list[dict[str, Any]]:
    by_key = {(r["method"], r["brief_id"]): r for r in records}
    out = []
    for brief_id in pick_examples(records, n):
        agent = by_key[("agent", brief_id)]
        answers = []
        for m in methods:
            r = by_key.get((m, brief_id))
            if r is None:
                continue
            shot = r["shots"][r["final"]] if r["final"] is not None else None
            answers.append({"method": m, "image": shot["image"] if shot else None, "ok": r["all_correct"],
                            "calls": r["calls"], "failed": shot["exact"]["failed"] if shot else []})
        out.append({"id": brief_id, "brief": agent["brief"], "difficulty": agent["difficulty"],
                    "run": agent["info"]["run"], "status": agent["info"]["status"],
                    "answers": answers, "tree": agent_tree(agent)})
    return out
