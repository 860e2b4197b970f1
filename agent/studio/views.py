"""What the page shows, as pure functions of a run folder read through its typed reader
(agent/run_files.py): the chat (rebuilt from events.jsonl, so a reloaded page or a restarted server
shows exactly what a live one did), the checklist with the critic's evidence, and the status and
spend line. No Gradio here: messages are plain dicts in the Chatbot's messages format."""
from __future__ import annotations

import html
from typing import Any

from agent.events import (AskHumanEvent, BacktrackEvent, CritiqueEvent, DecideEvent, EnterEvent, Event, FinishEvent,
                          GenerateEvent, PlanEvent, RewriteEvent, SelectEvent)
from agent.report import critique_details, edge_label
from agent.run_files import RunFolder
from agent.store import RunStore
from agent.tree import ROOT

# Answers that make an image: after one of these the page shows "making an image".
MAKING = {"vary", "region", "feedback"}


# -- the chat --------------------------------------------------------------------------------------
def _text(role: str, text: str, **meta: Any) -> dict:
    msg: dict[str, Any] = {"role": role, "content": text}
    if meta:
        msg["metadata"] = meta
    return msg


def _images(snap: RunFolder, caption: str, rels: list[str]) -> dict:
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


def event_messages(snap: RunFolder, e: Event) -> list[dict]:
    """The chat messages one event adds (many events add none)."""
    if isinstance(e, PlanEvent):
        items = "\n".join(f"- {html.escape(c.split(': ', 1)[-1])}" for c in e.checklist)
        return [_text("assistant", f"**Checklist** ({len(e.checklist)} requirements)\n{items}")]
    if isinstance(e, EnterEvent):
        return [_text("assistant", f"continuing — {e.reason}")]
    if isinstance(e, DecideEvent):
        title = f"decide: {e.decision}"
        body = e.reason
        if e.notes:
            body += "\n" + " · ".join(e.notes)
        return [_text("assistant", html.escape(body) or title, title=title, status="done")]
    if isinstance(e, RewriteEvent):
        if e.error:
            return [_text("assistant", f"the rewriter failed: {html.escape(e.error)}", title="rewrite")]
        return [_text("assistant", html.escape(e.prompt or ""), title=f"rewrite ({e.job})", status="done")]
    if isinstance(e, GenerateEvent):
        if e.error:
            return [_text("assistant", f"{e.action} failed: {html.escape(e.error)}")]
        nodes = snap.nodes
        ids = [i for i in e.nodes if i in nodes]
        label = edge_label(nodes[ids[0]]) if ids else e.action
        cap = f"**{', '.join(e.nodes)}** · {label} from {e.parent} · seed " \
              f"{', '.join(map(str, e.seeds))} · {e.engine_seconds:.2f} s"
        return [_images(snap, cap, e.images)]
    if isinstance(e, CritiqueEvent):
        if e.error:
            return [_text("assistant", f"critique of {e.node_id} failed: {html.escape(e.error)}")]
        mark = "✓ all pass" if not e.failed else "✗ " + ", ".join(e.failed)
        return [_text("assistant", f"{e.node_id}: score {e.score or 0:.2f} · {mark}")]
    if isinstance(e, SelectEvent) and e.outcome != "start":
        reason = f" — {html.escape(e.reason)}" if e.reason else ""
        return [_text("assistant", f"{e.node_id or ''} {e.outcome}{reason}")]
    if isinstance(e, BacktrackEvent):
        return [_text("assistant", f"↩ back to {e.to} — {html.escape(e.reason)}")]
    if isinstance(e, AskHumanEvent):
        return [_text("user", html.escape(describe_answer(e.answer)))]
    if isinstance(e, FinishEvent):
        best = f" · best {e.best} (score {e.best_score:.2f})" if e.best and e.best_score is not None else ""
        return [_text("assistant", f"**finished: {e.status}** — {html.escape(e.reason or '')}{best}")]
    return []


def chat(snap: RunFolder, working: str | None = None) -> list[dict]:
    """The whole conversation; ``working`` adds a pending line ("making an image…") at the end."""
    msgs = [_text("user", html.escape(snap.spec.brief))]
    root = snap.state.nodes.get(ROOT)
    if root is not None and root.image:
        msgs.append({"role": "user", "content": ["my image, to refine:", {"path": snap.image(root.image)}]})
    for e in snap.events:
        msgs.extend(event_messages(snap, e))
    if working:
        msgs.append(_text("assistant", "", title=working, status="pending"))
    return msgs


def working_line(events: list[Event]) -> str:
    """What the agent is doing now, from the last event of a running job."""
    last = events[-1] if events else None
    if isinstance(last, DecideEvent) and last.decision not in ("accept", "stop", "budget", "plateau"):
        return f"making an image: {last.decision}…"
    if isinstance(last, RewriteEvent) or (isinstance(last, AskHumanEvent) and last.answer.get("action") in MAKING):
        return "making an image…"
    if isinstance(last, GenerateEvent):
        return "the critic is looking at it…"
    return "the agent is thinking…"


# -- the checklist and the status line -------------------------------------------------------------
def _overruled(v: dict) -> str:
    """Where the agent's belief (witnesses, pixel checks) differs from the critic's verdict, say so."""
    if v.get("critic") is None or v["critic"] == v["passed"]:
        return ""
    said = "pass" if v["critic"] else "fail"
    return f" <span class='badge overruled'>critic said {said}; overruled by redraws or the pixels</span>"


def checklist_html(snap: RunFolder, node_id: str | None, verdicts: list[dict] | None = None) -> str:
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


def spend_line(snap: RunFolder) -> str:
    spend, budget = snap.state.spend, snap.state.budget.model_dump()
    parts = [f"{int(spend.get('generations', 0))}" + (f" of {budget['generations']}" if budget.get("generations")
                                                      else "") + " images"]
    parts.append(f"{spend.get('seconds', 0):.1f}" + (f" of {budget['seconds']:g}" if budget.get("seconds") else "") + " s")
    parts.append(f"${spend.get('usd', 0):.3f}" + (f" of ${budget['usd']:g}" if budget.get("usd") else ""))
    if spend.get("tokens"):
        parts.append(f"{int(spend['tokens'])} tokens")
    return " · ".join(parts)


def status_line(snap: RunFolder, question: dict | None, working: str | None = None) -> str:
    status = snap.state.status or "new"
    if working:
        head = f"⏳ **{working}**"
    elif question:
        score = question.get("score")
        head = f"**your turn** — {question['node']}" + (f" · score {score:.2f}" if score is not None and score >= 0 else "")
    else:
        head = f"**{status}**" + (f" — {html.escape(snap.state.stop_reason)}" if snap.state.stop_reason else "")
    best = snap.state.best
    tail = f" · best {best}" if best else ""
    return f"{head}{tail} · spent {spend_line(snap)} · run `{snap.run_id}`"
