"""What the page shows, as pure functions of a run folder: the chat (rebuilt from events.jsonl, so
a reloaded page or a restarted server shows exactly what a live one did), the checklist with the
critic's evidence, and the status and spend line. No Gradio here: messages are plain dicts in the
Chatbot's messages format."""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.report import critique_details, edge_label
from agent.store import RunStore
from agent.tree import ROOT, Tree

# Answers that make an image: after one of these the page shows "making an image".
MAKING = {"vary", "region", "feedback"}


@dataclass
class Snapshot:
    """A run as its files show it: run.json, tree.json and events.jsonl, read without the graph."""

    run_id: str
    root: Path
    info: dict
    tree: dict  # tree.json: nodes, checklist, current, best, status, spend, budget ...
    events: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, root: Path) -> "Snapshot":
        store = RunStore(root)
        info = json.loads((root / "run.json").read_text())
        tree = json.loads(store.tree_path.read_text()) if store.tree_path.is_file() else {}
        return cls(run_id=root.name, root=root, info=info, tree=tree, events=_events(store.events_path))

    @property
    def spec(self) -> dict:
        return self.info.get("spec") or {}

    @property
    def nodes(self) -> Tree:
        return Tree(self.tree.get("nodes") or {})

    @property
    def checklist(self) -> dict[str, str]:
        return {r["id"]: r["text"] for r in self.tree.get("checklist") or []}

    def image(self, rel: str | None) -> str | None:
        return str(self.root / rel) if rel else None


def _events(path: Path) -> list[dict]:
    """events.jsonl as it stands; a line being written right now is left for the next read."""
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


# -- the chat --------------------------------------------------------------------------------------
def _text(role: str, text: str, **meta: Any) -> dict:
    msg: dict[str, Any] = {"role": role, "content": text}
    if meta:
        msg["metadata"] = meta
    return msg


def _images(snap: Snapshot, caption: str, rels: list[str]) -> dict:
    files = [{"path": snap.image(r), "alt_text": caption} for r in rels if r]
    return {"role": "assistant", "content": [caption, *files]}


def describe_answer(a: dict) -> str:
    kind = a.get("action")
    if kind == "vary":
        return f"variations, please (strength {a['strength']:g})" if a.get("strength") else "variations, please"
    if kind == "pick":
        return f"I pick {a.get('node')}"
    if kind == "branch":
        return f"go on from {a.get('node')}"
    if kind == "region":
        r = a.get("region") or {}
        box = ", ".join(f"{r.get(k, 0):.2f}" for k in ("x0", "y0", "x1", "y1"))
        return f"redo the region ({box})" + (f": {a['prompt']}" if a.get("prompt") else "")
    if kind == "feedback":
        return a.get("text", "")
    return {"accept": "accept", "continue": "continue", "stop": "stop"}.get(kind, str(kind))


def event_messages(snap: Snapshot, e: dict) -> list[dict]:
    """The chat messages one event adds (many events add none)."""
    node = e.get("node")
    if node == "plan":
        items = "\n".join(f"- {html.escape(c.split(': ', 1)[-1])}" for c in e.get("checklist", []))
        return [_text("assistant", f"**Checklist** ({len(e.get('checklist', []))} requirements)\n{items}")]
    if node == "enter":
        return [_text("assistant", f"continuing — {e.get('reason')}")]
    if node == "decide":
        title = f"decide: {e.get('decision')}"
        body = e.get("reason") or ""
        if e.get("notes"):
            body += "\n" + " · ".join(e["notes"])
        return [_text("assistant", html.escape(body) or title, title=title, status="done")]
    if node == "rewrite_prompt":
        if "error" in e:
            return [_text("assistant", f"the rewriter failed: {html.escape(e['error'])}", title="rewrite")]
        return [_text("assistant", html.escape(e.get("prompt") or ""), title=f"rewrite ({e.get('job')})",
                      status="done")]
    if node == "generate":
        if "error" in e:
            kind = (e.get("action") or {}).get("kind", "the action")
            return [_text("assistant", f"{kind} failed: {html.escape(e['error'])}")]
        nodes = snap.nodes
        ids = [i for i in e.get("nodes", []) if i in nodes]
        label = edge_label(nodes[ids[0]]) if ids else e.get("action", "")
        cap = f"**{', '.join(e.get('nodes', []))}** · {label} from {e.get('parent')} · seed " \
              f"{', '.join(map(str, e.get('seeds', [])))} · {e.get('engine_seconds', 0):.2f} s"
        return [_images(snap, cap, e.get("images", []))]
    if node == "critique":
        if "error" in e:
            return [_text("assistant", f"critique of {e.get('node_id')} failed: {html.escape(e['error'])}")]
        failed = e.get("failed") or []
        mark = "✓ all pass" if not failed else "✗ " + ", ".join(failed)
        return [_text("assistant", f"{e.get('node_id')}: score {e.get('score', 0):.2f} · {mark}")]
    if node == "select" and e.get("outcome") not in (None, "start"):
        reason = f" — {html.escape(e['reason'])}" if e.get("reason") else ""
        return [_text("assistant", f"{e.get('node_id') or ''} {e.get('outcome')}{reason}")]
    if node == "backtrack":
        return [_text("assistant", f"↩ back to {e.get('to')} — {html.escape(e.get('reason') or '')}")]
    if node == "ask_human":
        return [_text("user", html.escape(describe_answer(e.get("answer") or {})))]
    if node == "finish":
        best = f" · best {e['best']} (score {e['best_score']:.2f})" if e.get("best") and e.get("best_score") is not None \
            else ""
        return [_text("assistant", f"**finished: {e.get('status')}** — {html.escape(e.get('reason') or '')}{best}")]
    return []


def chat(snap: Snapshot, working: str | None = None) -> list[dict]:
    """The whole conversation; ``working`` adds a pending line ("making an image…") at the end."""
    spec = snap.spec
    msgs = [_text("user", html.escape(spec.get("brief", "")))]
    root = (snap.tree.get("nodes") or {}).get(ROOT, {})
    if root.get("image"):
        msgs.append({"role": "user", "content": ["my image, to refine:", {"path": snap.image(root["image"])}]})
    for e in snap.events:
        msgs.extend(event_messages(snap, e))
    if working:
        msgs.append(_text("assistant", "", title=working, status="pending"))
    return msgs


def working_line(events: list[dict]) -> str:
    """What the agent is doing now, from the last event of a running job."""
    last = events[-1] if events else {}
    node = last.get("node")
    if node == "decide" and last.get("decision") not in ("accept", "stop", "budget", "plateau"):
        return f"making an image: {last.get('decision')}…"
    if node == "rewrite_prompt" or (node == "ask_human" and (last.get("answer") or {}).get("action") in MAKING):
        return "making an image…"
    if node == "generate":
        return "the critic is looking at it…"
    return "the agent is thinking…"


# -- the checklist and the status line -------------------------------------------------------------
def _overruled(v: dict) -> str:
    """Where the agent's belief (witnesses, pixel checks) differs from the critic's verdict, say so."""
    if v.get("critic") is None or v["critic"] == v["passed"]:
        return ""
    said = "pass" if v["critic"] else "fail"
    return f" <span class='badge overruled'>critic said {said}; overruled by redraws or the pixels</span>"


def checklist_html(snap: Snapshot, node_id: str | None, verdicts: list[dict] | None = None) -> str:
    """A table of requirements with pass/fail and the critic's evidence for one node."""
    if not node_id or node_id not in snap.nodes:
        return "<p class='muted'>No image yet.</p>"
    node = snap.nodes[node_id]
    if verdicts is None:
        verdicts = list(critique_details(RunStore(snap.root), node).values())
    if not verdicts:
        return f"<p class='muted'>{node_id} has no critique{': ' + html.escape(node.critique_error) if node.critique_error else ''}.</p>"
    texts = snap.checklist
    rows = "".join(
        f"<tr class='{'pass' if v['passed'] else 'fail'}'><td>{'✓' if v['passed'] else '✗'}</td>"
        f"<td>{html.escape(texts.get(v['id'], v['id']))}</td>"
        f"<td class='evidence'>{html.escape(v.get('evidence') or '')}{_overruled(v)}</td></tr>"
        for v in verdicts)
    return (f"<table class='checklist' data-node='{node_id}'><tr><th></th><th>requirement</th><th>evidence</th></tr>"
            f"{rows}</table>")


def spend_line(snap: Snapshot) -> str:
    spend, budget = snap.tree.get("spend") or {}, snap.tree.get("budget") or {}
    parts = [f"{int(spend.get('generations', 0))}" + (f" of {budget['generations']}" if budget.get("generations")
                                                      else "") + " images"]
    parts.append(f"{spend.get('seconds', 0):.1f}" + (f" of {budget['seconds']:g}" if budget.get("seconds") else "") + " s")
    parts.append(f"${spend.get('usd', 0):.3f}" + (f" of ${budget['usd']:g}" if budget.get("usd") else ""))
    if spend.get("tokens"):
        parts.append(f"{int(spend['tokens'])} tokens")
    return " · ".join(parts)


def status_line(snap: Snapshot, question: dict | None, working: str | None = None) -> str:
    status = snap.tree.get("status") or "new"
    if working:
        head = f"⏳ **{working}**"
    elif question:
        score = question.get("score")
        head = f"**your turn** — {question['node']}" + (f" · score {score:.2f}" if score is not None and score >= 0 else "")
    else:
        head = f"**{status}**" + (f" — {html.escape(snap.tree['stop_reason'])}" if snap.tree.get("stop_reason") else "")
    best = snap.tree.get("best")
    tail = f" · best {best}" if best else ""
    return f"{head}{tail} · spent {spend_line(snap)} · run `{snap.run_id}`"
