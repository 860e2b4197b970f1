"""report.html: the tree with thumbnails, each edge's action and reason, the best path, and the
checklist with pass/fail per node. Static HTML with relative links, so the run folder can be
moved, zipped or served as is."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.state import RunState, node_score, path_to
from agent.store import RunStore, atomic_write

_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))


def _edge_label(node: dict[str, Any]) -> str:
    a = node.get("action") or {}
    kind = a.get("kind", "?")
    bits = [kind]
    if a.get("strength") is not None and kind != "inpaint":
        bits.append(f"strength {a['strength']:g}")
    if a.get("n"):
        bits.append(f"n={a['n']}")
    if a.get("regions"):
        bits.append(f"{len(a['regions'])} region(s)")
    return " · ".join(bits)


def _critique_details(store: RunStore, node: dict[str, Any]) -> dict[str, Any]:
    crit = node.get("critique")
    if not crit or not crit.get("file"):
        return {}
    try:
        full = json.loads((store.root / crit["file"]).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {v["id"]: v for v in full.get("verdicts", [])}


def _tree(nodes: dict[str, dict], best_path: set[str], store: RunStore, node_id: str) -> dict[str, Any]:
    node = nodes[node_id]
    children = sorted((i for i, n in nodes.items() if n.get("parent") == node_id),
                      key=lambda i: int(i[1:]) if i[1:].isdigit() else 0)
    regions = (node.get("action") or {}).get("regions") or []
    return {
        "id": node_id, "image": node.get("image"), "score": node_score(node), "outcome": node.get("outcome"),
        "on_best_path": node_id in best_path, "edge": _edge_label(node) if node.get("parent") else "brief",
        "reason": (node.get("action") or {}).get("reason", ""), "prompt": node.get("prompt"),
        "seed": node.get("seed"), "lost": node.get("lost") or [], "error": node.get("critique_error"),
        "regions": [{"left": r["x0"] * 100, "top": r["y0"] * 100, "width": (r["x1"] - r["x0"]) * 100,
                     "height": (r["y1"] - r["y0"]) * 100} for r in regions],
        "tabu": node.get("tabu") or [], "sibling_rank": node.get("sibling_rank"),
        "children": [_tree(nodes, best_path, store, c) for c in children],
    }


def render_report(store: RunStore, state: RunState, budget: dict | None = None) -> str:
    nodes = state.get("nodes", {})
    best = state.get("best")
    best_path = set(path_to(nodes, best)) if best else set()
    imaged = sorted((i for i, n in nodes.items() if n.get("image")), key=lambda i: int(i[1:]))
    verdicts = {i: _critique_details(store, nodes[i]) for i in imaged}
    checklist = state.get("checklist", [])
    matrix = [{"id": r["id"], "text": r["text"], "kind": r.get("kind"),
               "cells": [{"node": i, "v": verdicts[i].get(r["id"])} for i in imaged]} for r in checklist]
    events = store.events()
    info = store.info()
    return _ENV.get_template("report.html.j2").render(
        state=state, info=info, budget=budget or info.get("budget") or {}, best=best, best_node=nodes.get(best) if best else None,
        best_score=node_score(nodes[best]) if best else None, tree=_tree(nodes, best_path, store, "root")
        if "root" in nodes else None, imaged=imaged, matrix=matrix, nodes=nodes,
        decisions=[e for e in events if e.get("node") in ("decide", "select", "backtrack", "ask_human", "finish")],
    )


def write_report(store: RunStore, state: RunState, budget: dict | None = None) -> Path:
    atomic_write(store.report_path, render_report(store, state, budget))
    return store.report_path
