"""report.html: the tree with thumbnails, each edge's action and reason, the best path, and the
checklist with pass/fail per node. Static HTML with relative links, so the run folder can be
moved, zipped or served as is."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.policy import belief
from agent.store import RunStore
from agent.tree import ROOT, Tree, TreeNode
from tools.files import atomic_write

_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))


def edge_label(node: TreeNode) -> str:
    """'variations · strength 0.35 · n=3': how a node was made, in a few words."""
    a = node.action
    if a is None:
        return "your image" if node.image else "brief"
    bits = [a.kind]
    if a.strength is not None and a.kind != "inpaint":
        bits.append(f"strength {a.strength:g}")
    if a.n:
        bits.append(f"n={a.n}")
    if a.regions:
        bits.append(f"{len(a.regions)} region(s)")
    return " · ".join(bits)


def critique_details(store: RunStore, node: TreeNode) -> dict[str, Any]:
    """Requirement id -> the full verdict (with evidence) of a node's critique, ``passed`` being what
    the agent believes (witnesses' votes and pixel checks included, tree.py) and ``critic`` what the
    critic said, so a page shows the checklist the agent acted on."""
    if node.critique is None or not node.critique.file:
        return {}
    try:
        full = json.loads((store.root / node.critique.file).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {v["id"]: v for v in belief.verdicts(node, full.get("verdicts", []))}


def _tree(tree: Tree, best_path: set[str], node_id: str) -> dict[str, Any]:
    node = tree[node_id]
    regions = node.action.regions if node.action else []
    return {
        "id": node_id, "image": node.image, "score": belief.score(node), "outcome": node.outcome,
        "on_best_path": node_id in best_path, "edge": edge_label(node),
        "reason": node.action.reason if node.action else "", "prompt": node.prompt,
        "seed": node.seed, "lost": node.lost, "error": node.critique_error or "; ".join(node.tool_errors),
        "regions": [{"left": r.x0 * 100, "top": r.y0 * 100, "width": (r.x1 - r.x0) * 100,
                     "height": (r.y1 - r.y0) * 100} for r in regions],
        "tabu": node.tabu, "sibling_rank": node.sibling_rank,
        "children": [_tree(tree, best_path, c) for c in tree.children(node_id)],
    }


def render_report(store: RunStore, state: dict, budget: Any = None) -> str:
    tree = Tree(state.get("nodes", {}))
    nodes = {i: tree[i] for i in tree.ids()}
    best = state.get("best")
    best_path = set(tree.path_to(best)) if best else set()
    imaged = tree.imaged()
    verdicts = {i: critique_details(store, nodes[i]) for i in imaged}
    checklist = state.get("checklist", [])
    matrix = [{"id": r["id"], "text": r["text"], "kind": r.get("kind"),
               "cells": [{"node": i, "v": verdicts[i].get(r["id"])} for i in imaged]} for r in checklist]
    events = store.events()
    info = store.info()
    budget = budget.limits() if hasattr(budget, "limits") else (budget or {})
    return _ENV.get_template("report.html.j2").render(
        state=state, info=info, budget=budget, best=best, best_node=nodes.get(best) if best else None,
        best_score=belief.score(nodes[best]) if best else None, tree=_tree(tree, best_path, ROOT)
        if ROOT in tree else None, imaged=imaged, matrix=matrix, nodes=nodes,
        decisions=[e for e in events if e.node in ("decide", "select", "backtrack", "ask_human", "finish")],
    )


def write_report(store: RunStore, state: dict, budget: Any = None) -> Path:
    atomic_write(store.report_path, render_report(store, state, budget))
    return store.report_path
