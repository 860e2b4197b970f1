"""The tree as HTML for the page: every image as a thumbnail with the action that made it, its score
and outcome, the best path outlined, inpainted regions drawn; a click on a card selects that node
(the page's js sends ``select`` with the node id). Also the side-by-side comparison of two nodes."""
from __future__ import annotations

import html
from urllib.parse import quote

from agent.policy import belief
from agent.report import edge_label
from agent.events import BacktrackEvent
from agent.run_files import RunFolder
from agent.studio.views import checklist_html, words_of
from agent.tree import ROOT, Tree

# Sent to the page once: clicks anywhere on a card select its node (event delegation, so it keeps
# working when the tree is re-rendered).
TREE_JS = """
element.addEventListener('click', (ev) => {
  const card = ev.target.closest('[data-node]');
  if (card) trigger('select', {node: card.dataset.node});
});
"""


def file_url(path: str) -> str:
    """Gradio's file route; it serves only the runs folder (allowed_paths) and its own uploads."""
    return "gradio_api/file=" + quote(path)


def _backtracked(snap: RunFolder) -> dict[str, str]:
    """node -> where the agent went back to from it."""
    return {e.away_from: e.to for e in snap.events if isinstance(e, BacktrackEvent) and e.away_from}


def _card(snap: RunFolder, tree: Tree, node_id: str, best_path: set[str], marks: dict) -> str:
    node = tree[node_id]
    words = marks["words"]
    classes = ["card"]
    if node_id in best_path:
        classes.append("best")
    if node_id == marks.get("current"):
        classes.append("current")
    if node_id == marks.get("selected"):
        classes.append("selected")
    thumb = ""
    if node.image:
        regions = "".join(
            f"<span class='region' style='left:{r.x0 * 100:.1f}%;top:{r.y0 * 100:.1f}%;"
            f"width:{(r.x1 - r.x0) * 100:.1f}%;height:{(r.y1 - r.y0) * 100:.1f}%'></span>"
            for r in (node.action.regions if node.action else []))
        thumb = (f"<div class='thumb'><img src='{file_url(snap.image(node.image))}' alt='{node_id}' "
                 f"loading='lazy'>{regions}</div>")
    score = f"{belief.score(node):.2f}" if belief.score(node) >= 0 else "—"
    badges = ""
    if node.outcome:
        badges += f"<span class='badge {node.outcome}'>{html.escape(words.outcome(node.outcome))}</span>"
    if node_id in marks.get("backtracked", {}):
        badges += f"<span class='badge backtrack'>↩ {marks['backtracked'][node_id]}</span>"
    if node_id == marks.get("picked"):
        badges += "<span class='badge bestmark pick'>★ your pick</span>"
    elif node_id == marks.get("best"):
        badges += "<span class='badge bestmark'>★ best</span>"
    if node.amendment:
        badges += "<span class='badge amended'>brief changed</span>"
    title = html.escape(marks["words"].reason(node.action.reason if node.action else ""))
    return (f"<div class='{' '.join(classes)}' data-node='{node_id}' title='{title}'>{thumb}"
            f"<div class='meta'><b>{node_id}</b> · {score}<div class='edge'>{html.escape(edge_label(node))}</div>"
            f"{badges}</div></div>")


def _branch(snap: RunFolder, tree: Tree, node_id: str, best_path: set[str], marks: dict) -> str:
    kids = tree.children(node_id)
    inner = "".join(_branch(snap, tree, k, best_path, marks) for k in kids)
    cls = " class='onbest'" if node_id in best_path else ""
    return f"<li{cls}>{_card(snap, tree, node_id, best_path, marks)}" + (f"<ul>{inner}</ul>" if inner else "") + "</li>"


def tree_html(snap: RunFolder | None, current: str | None = None, selected: str | None = None) -> str:
    if snap is None or not snap.state.nodes:
        return "<div class='studio-tree empty'>The tree of images appears here.</div>"
    tree = snap.nodes
    best = snap.state.best
    marks = {"current": current, "selected": selected, "best": best, "backtracked": _backtracked(snap),
             "picked": snap.state.picked, "words": words_of(snap)}
    best_path = set(tree.path_to(best)) if best and best in tree else set()
    return f"<div class='studio-tree'><ul>{_branch(snap, tree, ROOT, best_path, marks)}</ul></div>"


def node_summary(snap: RunFolder, node_id: str | None) -> str:
    """One node in words: how it was made, its prompt and seed, and what the agent learned there."""
    if not node_id or node_id not in snap.nodes:
        return "Click an image in the tree to select it."
    n = snap.nodes[node_id]
    bits = [f"**{node_id}** · {edge_label(n)}" + (f" from {n.parent}" if n.parent and n.parent != ROOT else "")]
    if belief.score(n) >= 0:
        bits.append(f"score {belief.score(n):.2f}" + (f" · {words_of(snap).outcome(n.outcome)}" if n.outcome else ""))
    words = words_of(snap)
    if n.action and n.action.reason:
        bits.append(f"why: {html.escape(words.reason(n.action.reason))}")
    if n.amendment:
        bits.append(f"the brief changed with you: {html.escape(words.amendment(n.amendment.model_dump(mode='json')))}")
    if n.prompt:
        bits.append(f"prompt: `{html.escape(n.prompt)}` · seed {n.seed}")
    if n.lost:
        bits.append(f"lost: {html.escape(words.reqs(n.lost, ', '))}")
    return "  \n".join(bits)


def compare_html(snap: RunFolder | None, a: str | None, b: str | None) -> str:
    """Two nodes side by side: image, how each was made, and each checklist."""
    if snap is None:
        return ""
    cols = []
    for node_id in (a, b):
        if not node_id or node_id not in snap.nodes or not snap.nodes[node_id].image:
            cols.append("<div class='cmp-col muted'>choose a node</div>")
            continue
        n = snap.nodes[node_id]
        score = f"{belief.score(n):.2f}" if belief.score(n) >= 0 else "—"
        cols.append(f"<div class='cmp-col' data-cmp='{node_id}'><img src='{file_url(snap.image(n.image))}' alt='{node_id}'>"
                    f"<div><b>{node_id}</b> · {html.escape(edge_label(n))} · score {score}</div>"
                    f"{checklist_html(snap, node_id)}</div>")
    return f"<div class='compare'>{''.join(cols)}</div>"
