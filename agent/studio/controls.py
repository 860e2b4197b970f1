"""Which controls can act now, and why the others cannot: a disabled control says why on hover.

The page gets, with every view, a map from each control's element id to the reason it is disabled
("" when it can act); a few lines of script (``TITLES``) put those reasons in the controls' titles.
What a control can do is decided from where the run stands — no run, the agent at work, a question
open (and what it asks), or a finished run — never left enabled to fail or to act silently.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

# Puts each disabled control's reason in its title (hover), and clears it when the control can act.
# Applied again a moment later: a control inside a panel that just opened is drawn after the event.
TITLES = """(why) => { let map = {}; try { map = JSON.parse(why || '{}'); } catch (e) {}
  const put = () => { for (const [id, reason] of Object.entries(map)) { const el = document.getElementById(id);
    if (!el) continue; const b = el.tagName === 'BUTTON' ? el : (el.querySelector('button') || el);
    if (reason) { b.title = reason; b.setAttribute('aria-description', reason); }
    else { b.removeAttribute('title'); b.removeAttribute('aria-description'); } } };
  put(); setTimeout(put, 300); }"""


@dataclass(frozen=True)
class Stand:
    """Where a run stands, as the controls need it."""

    has_run: bool = False
    busy: bool = False  # the agent is working on it
    autopilot: bool = False
    question: dict | None = None  # the question it waits on
    status: str = ""  # its status in words, when it has ended
    selected: str | None = None  # the image selected in the tree


def reasons(s: Stand) -> dict[str, str]:
    """Element id -> why that control cannot act now ("" where it can)."""
    q = s.question or {}
    if not s.has_run:
        none = "no run is open: type a brief (or open a run from the list)"
        why = {k: none for k in ("accept", "step", "auto", "stop", "vary", "region", "halt", "cancel", "branch")}
    elif s.busy:
        working = "the agent is working: wait for its question (or stop the autopilot, or cancel the image)"
        why = {k: working for k in ("accept", "step", "auto", "stop", "vary", "region", "branch")}
        why["halt"] = "" if s.autopilot else "the autopilot is not on"
        why["cancel"] = ""
    elif not s.question:
        ended = (f"the run has ended ({s.status}): select an image in the tree and press “Go on from it”, or start a "
                 "new run")
        why = {k: ended for k in ("accept", "step", "auto", "stop", "vary", "region")}
        why.update(halt="the autopilot is not on", cancel="no image is being made", branch="")
    else:
        why = {k: "" for k in ("accept", "step", "auto", "stop", "vary", "region", "branch")}
        why.update(halt="the autopilot is not on", cancel="no image is being made")
        if q.get("amend"):
            first = f"first say: {q['amend']['question']} (Keep my change, or Keep the brief)"
            why.update(step=first, auto=first)
        if not q.get("image"):
            none = "there is no image here yet: let the agent go on (One step) to make one"
            why.update(accept=none, vary=none, region=none)
    if s.has_run and not s.busy and not s.selected:
        why["branch"] = "click an image of the tree first"
    return why


def as_json(why: dict[str, str]) -> str:
    return json.dumps(why, sort_keys=True)
