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
from agent.wording import Words
from tools.files import atomic_write

_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))


def edge_label(node: TreeNode) -> str:
    """'3 variations at strength 0.35': how a node was made, in a few plain words."""
    a = node.action
    if a is None:
        return "your image" if node.image else "the brief"
    if a.kind == "variations":
        what = f"{a.n} variations" if (a.n or 1) > 1 else "a variation"
    elif a.kind == "inpaint":
        n = len(a.regions)
        what = "a repaint of " + ("a region" if n == 1 else f"{n} regions")
    else:
        what = {"txt2img": "a new image", "img2img": "a redraw"}.get(a.kind, a.kind)
    strength = f" at strength {a.strength:g}" if a.strength is not None and a.kind not in ("inpaint", "txt2img") else ""
    return what + strength + (" (a second look)" if a.check else "")


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


def _tree(tree: Tree, best_path: set[str], node_id: str, words: Words) -> dict[str, Any]:
    node = tree[node_id]
    regions = node.action.regions if node.action else []
    return {
        "id": node_id, "image": node.image, "score": belief.score(node), "outcome": node.outcome,
        "outcome_words": words.outcome(node.outcome), "on_best_path": node_id in best_path, "edge": edge_label(node),
        "reason": words.reason(node.action.reason if node.action else ""), "prompt": node.prompt,
        "seed": node.seed, "lost": words.reqs(node.lost, ", "),
        "error": words.error(node.critique_error or "; ".join(node.tool_errors)),
        "regions": [{"left": r.x0 * 100, "top": r.y0 * 100, "width": (r.x1 - r.x0) * 100,
                     "height": (r.y1 - r.y0) * 100} for r in regions],
        "tabu": [words.action_class(k) for k in node.tabu], "sibling_rank": node.sibling_rank,
        "amendment": words.amendment(node.amendment.model_dump(mode="json")) if node.amendment else "",
        "children": [_tree(tree, best_path, c, words) for c in tree.children(node_id)],
    }


def render_report(store: RunStore, state: dict, budget: Any = None) -> str:
    tree = Tree(state.get("nodes", {}))
    nodes = {i: tree[i] for i in tree.ids()}
    best = state.get("best")
    best_path = set(tree.path_to(best)) if best else set()
    imaged = tree.imaged()
    verdicts = {i: critique_details(store, nodes[i]) for i in imaged}
    checklist = state.get("checklist", [])
    matrix = [{"id": r["id"], "text": r["text"], "kind": r.get("kind"), "amended": r.get("amended_by") == "person",
               "cells": [{"node": i, "v": verdicts[i].get(r["id"])} for i in imaged]} for r in checklist]
    events = store.events()
    words = Words.of(checklist, events, state.get("nodes", {}))
    info = store.info()
    budget = budget.limits() if hasattr(budget, "limits") else (budget or {})
    return _ENV.get_template("report.html.j2").render(
        state=state, info=info, budget=budget, best=best, best_node=nodes.get(best) if best else None,
        best_score=belief.score(nodes[best]) if best else None, tree=_tree(tree, best_path, ROOT, words)
        if ROOT in tree else None, imaged=imaged, matrix=matrix, nodes=nodes, words=words,
        decisions=_decisions(events, words),
    )


def _decisions(events: list, words: Words) -> list[dict[str, Any]]:
    """The steps where something was decided, each in the words the chat uses."""
    out = []
    for e in events:
        if e.node not in ("decide", "select", "backtrack", "ask_human", "finish"):
            continue
        line = words.event(e)
        if line:
            out.append({"step": e.step, "what": {"ask_human": "you", "select": "judged", "decide": "next",
                                                 "backtrack": "back", "finish": "end"}[e.node],
                        "line": line, "notes": [words.reason(n) for n in getattr(e, "notes", [])]})
    return out


def write_report(store: RunStore, state: dict, budget: Any = None) -> Path:
    atomic_write(store.report_path, render_report(store, state, budget))
    return store.report_path
