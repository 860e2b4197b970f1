"""What the page shows, as pure functions of a run folder read through its typed reader
(agent/run_files.py): the chat (rebuilt from events.jsonl, so a reloaded page or a restarted server
shows exactly what a live one did), the checklist with the critic's evidence, and the status and
spend line. No Gradio here: messages are plain dicts in the Chatbot's messages format."""
from __future__ import annotations

import html
from typing import Any

from agent.events import AskHumanEvent, DecideEvent, Event, FinishEvent, GenerateEvent, PlanEvent, RewriteEvent, SelectEvent
from agent.policy import amend, person
from agent.report import critique_details, edge_label
from agent.run_files import RunFolder
from agent.store import RunStore
from agent.tree import ROOT
from agent.wording import ACTIONS, Words

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


def words_of(snap: RunFolder) -> Words:
    return Words.of(snap.state.checklist, nodes=snap.state.nodes)


def event_messages(snap: RunFolder, e: Event, words: Words) -> list[dict]:
    """The chat messages one event adds (many events add none), in agent/wording.py's words."""
    line = words.event(e)
    if line is None:
        return []
    if isinstance(e, PlanEvent):
        items = "\n".join(f"- {html.escape(c.split(': ', 1)[-1])}" for c in e.checklist)
        return [_text("assistant", f"**Checklist** ({len(e.checklist)} requirements)\n{items}")]
    if isinstance(e, DecideEvent):
        notes = "\n" + " · ".join(words.reason(n) for n in e.notes) if e.notes else ""
        body = words.reason(e.reason) + notes
        return [_text("assistant", html.escape(body), title=f"next: {words.action(e.decision)}", status="done")]
    if isinstance(e, RewriteEvent) and not e.error:
        return [_text("assistant", html.escape(e.prompt or ""), title="new prompt", status="done")]
    if isinstance(e, GenerateEvent) and not (e.error or e.cancelled):
        ids = [i for i in e.nodes if i in snap.nodes]
        label = edge_label(snap.nodes[ids[0]]) if ids else e.action
        cap = f"**{', '.join(e.nodes)}** · {html.escape(words.reason(label))} from {e.parent} · seed " \
              f"{', '.join(map(str, e.seeds))} · {e.engine_seconds:.2f} s"
        return [_images(snap, cap, e.images)]
    if isinstance(e, SelectEvent) and (e.amendment or e.question):
        return [_text("assistant", f"**{html.escape(line)}**")]
    if isinstance(e, FinishEvent):
        return [_text("assistant", f"**{html.escape(line)}**")]
    return [_text("user" if isinstance(e, AskHumanEvent) else "assistant", html.escape(line))]


def chat(snap: RunFolder, working: str | None = None) -> list[dict]:
    """The whole conversation; ``working`` adds a pending line ("making an image…") at the end."""
    msgs = [_text("user", html.escape(snap.spec.brief))]
    root = snap.state.nodes.get(ROOT)
    if root is not None and root.image:
        msgs.append({"role": "user", "content": ["my image, to refine:", {"path": snap.image(root.image)}]})
    words = words_of(snap)
    for e in snap.events:
        msgs.extend(event_messages(snap, e, words))
    if working:
        msgs.append(_text("assistant", "", title=working, status="pending"))
    return msgs


def working_line(events: list[Event]) -> str:
    """What the agent is doing now, from the last event of a running job."""
    last = events[-1] if events else None
    if isinstance(last, DecideEvent) and last.decision in ACTIONS and last.decision not in ("accept", "stop", "budget",
                                                                                            "plateau"):
        return f"making an image: {ACTIONS[last.decision]}…"
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


_MARK = {"pass": "✓", "fail": "✗", "unjudged": "?"}


def _state(verdict: dict) -> str:
    # A verdict the critic could not judge (its card, agent/critics/card.py) passes, but is not a ✓.
    if verdict.get("judged", True) is False:
        return "unjudged"
    return "pass" if verdict["passed"] else "fail"


def checklist_html(snap: RunFolder, node_id: str | None, verdicts: list[dict] | None = None) -> str:
    """A table of requirements with pass/fail and the critic's evidence for one node; a requirement
    the person changed says so, and an image judged before they changed the brief too."""
    if not node_id or node_id not in snap.nodes:
        return "<p class='muted'>No image yet.</p>"
    node = snap.nodes[node_id]
    if verdicts is None:
        verdicts = list(critique_details(RunStore(snap.root), node).values())
    words = words_of(snap)
    if not verdicts:
        why = f": {html.escape(words.error(node.critique_error))}" if node.critique_error else ""
        return f"<p class='muted'>{node_id} has not been judged{why}.</p>"
    changed = {r.id for r in snap.state.checklist if r.amended_by == "person"}
    mine = " <span class='badge amended'>changed by you</span>"
    rows = "".join(
        f"<tr class='{_state(v)}'><td>{_MARK[_state(v)]}</td>"
        f"<td>{html.escape(words.req(v['id']))}{mine if v['id'] in changed else ''}</td>"
        f"<td class='evidence'>{html.escape(v.get('evidence') or '')}{_overruled(v)}</td></tr>"
        for v in verdicts)
    old = "<p class='muted stale'>judged against the brief before you changed it</p>" \
        if amend.stale(node, {"checklist_version": snap.state.checklist_version or 0}) else ""
    return (f"{old}<table class='checklist' data-node='{node_id}'><tr><th></th><th>requirement</th><th>evidence</th>"
            f"</tr>{rows}</table>")


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
    words = words_of(snap)
    if working:
        head = f"⏳ **{working}**"
    elif question:
        score = question.get("score")
        head = f"**your turn** — {question['node']}" + (f" · score {score:.2f}" if score is not None and score >= 0 else "")
        if question.get("amend"):
            head += f" · **{html.escape(question['amend']['question'])}**"
        elif question.get("offer"):
            head += f" · {html.escape(question['offer'])}"
    else:
        status = snap.state.status or "new"
        reason = words.reason(snap.state.stop_reason)
        head = f"**{words.status(status)}**" + (f" — {html.escape(reason)}" if reason else "")
    best, picked = snap.state.best, snap.state.picked
    answer = person.answer(snap.state.model_dump())  # the pick, unless the person accepted another
    tail = f" · your pick {picked}" if picked and answer == picked else (f" · best {best}" if best else "")
    return f"{head}{tail} · spent {spend_line(snap)} · run `{snap.run_id}`"
