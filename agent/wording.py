"""Plain words for everything a person reads: the run's typed events (agent/events.py), the policy's
reasons and the checklist, said with the requirements' own texts ("✗ the circle is left of the
square", never "✗ g0.left_of.g1"). The studio's chat, the terminal (agent/cli/display.py, chat.py)
and the tree report (agent/report.py) all say things through :class:`Words`, so they say the same.

The policy writes its reasons for the record, with requirement ids and its own terms; this module
reads them for people: ids become texts, and a few internal phrases ("tabu", "no-progress", "the
strength goes up") become what they mean. Decisions are never changed here, only how they read.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from agent.events import (AskHumanEvent, BacktrackEvent, CritiqueEvent, DecideEvent, EnterEvent, Event, FinishEvent,
                          GenerateEvent, PlanEvent, RewriteEvent, SelectEvent)

ACTIONS = {"txt2img": "a new image", "img2img": "a redraw", "inpaint": "a repaint of a region",
           "variations": "variations", "accept": "accept", "stop": "stop", "budget": "stop: budget spent",
           "plateau": "stop: no better image for a while"}
OUTCOMES = {"progress": "better", "fresh": "a fresh start", "no-progress": "no better", "drift": "it broke what held",
            "stagnation": "stuck below the best image", "failed": "could not be judged", "confirmed": "confirmed",
            "tie": "undecided", "disputed": "disputed", "amended": "your change to the brief", "start": "your image",
            "rejudged": "judged again, against the brief as you changed it",
            "ask": "your call"}
STATUSES = {"accepted": "accepted", "budget": "stopped: budget spent", "plateau": "stopped: no better image for a "
            "while", "exhausted": "stopped: nothing left to try", "stopped": "stopped", "critic_unavailable":
            "paused: the critic cannot be reached", "critic_failed": "stopped: the critic gave no usable answer",
            "running": "running", "waiting": "your turn"}
# The policy's own phrases, as a person would say them (checked in order; each a full match of a part).
PHRASES = [
    (r"the image changed only ([\d.]+%), so the strength goes up",
     r"the image barely changed (\1), so the next try changes more"),
    (r"cannot make a first image: txt2img is (.+)", r"cannot make a first image: \1"),
    (r"(txt2img|img2img|inpaint|variations) is tabu here", r"\1: not tried again here, it went wrong here before"),
    (r"tabu here", "not tried again here: it went wrong here before"),
    (r"skipped (txt2img|img2img|inpaint|variations)", r"skipped \1"),
    (r"no untried action left at the current node", "nothing left to try from this image"),
    (r"local failure \((.+?)\) confined to 1 region\(s\) covering (\d+%)",
     r"\1 fails in one place (\2 of the image): repaint it"),
    (r"local failure \((.+?)\) confined to (\d+) region\(s\) covering (\d+%)",
     r"\1 fails in \2 places (\3 of the image): repaint them"),
    (r"global failure \((.+?)\)", r"\1 fails across the image"),
    (r"lost (.+?) that held at (\w+)", r"it lost \1, which held at \2"),
    (r"gained score", "a better score"),
    (r"gained (.+)", r"now passes \1"),
    (r"nothing new holds", "nothing new passes"),
    (r"no-progress", "no better"),
    (r"\b(no|skipped) inpaint for", r"\1 repaint of"),
]
_TOOL_WORDS = re.compile(r"\b(txt2img|img2img|inpaint|variations)\b")
_CLASS_NAME = re.compile(r"\(?\b[A-Z][A-Za-z]*(Error|Exception)\b\)?:?\s?")
_LISTS = [r"lost (.+?) that held", r"gained (.+)$", r"\(([^()]+)\)", r"only (.+?) fails", r"disagreed on ([^:]+)",
          r"fail ([^,:]+(?:, [^,:]+)*?):", r"not taken as lost \(no pixel changed where they are\): (.+)$"]


class Words:
    """Says a run's things in plain words, knowing every requirement text it ever had."""

    def __init__(self, texts: dict[str, str] | None = None, groups: dict[str, str] | None = None):
        self.texts = dict(texts or {})
        self.groups = dict(groups or {})  # object group -> what it is ("a blue square")
        self._pattern: re.Pattern | None = None

    @classmethod
    def of(cls, checklist: Iterable = (), events: Iterable[Event] = (), nodes: dict | None = None) -> "Words":
        """From a checklist (Requirement or dicts), and the events and nodes of a run: a requirement
        a person replaced keeps its words for the steps that spoke of it."""
        w = cls()
        for e in events:
            w.learn_event(e)
        for node in (nodes or {}).values():
            amendment = node.get("amendment") if isinstance(node, dict) else getattr(node, "amendment", None)
            if amendment:
                w.learn(amendment.get("replaced", []) if isinstance(amendment, dict) else amendment.replaced)
        w.learn(checklist)
        return w

    @classmethod
    def of_folder(cls, root) -> "Words":
        """Everything a run folder's checklist, events and tree have said (a resumed run goes on in them)."""
        from agent.run_files import RunFolder  # the run's typed reader (it imports more than words need)

        snap = RunFolder.read(root)
        return cls.of(snap.state.checklist, snap.events, snap.state.nodes)

    def learn(self, requirements: Iterable) -> None:
        for r in requirements:
            r = r if isinstance(r, dict) else r.model_dump()
            self.texts[r["id"]] = r["text"]
            if r.get("group") and r.get("kind") in ("object", "count"):
                self.groups.setdefault(r["group"], r["text"])
        self._pattern = None

    def learn_event(self, e: Event) -> None:
        if isinstance(e, PlanEvent):
            self.texts.update(dict(c.split(": ", 1) for c in e.checklist if ": " in c))
            self._pattern = None
        elif isinstance(e, (SelectEvent, AskHumanEvent)) and e.amendment:
            self.learn(e.amendment.get("replaced", []) + e.amendment.get("added", []))

    # -- pieces ------------------------------------------------------------------------------------
    def req(self, rid: str) -> str:
        return self.texts.get(rid) or self.groups.get(rid) or rid

    def reqs(self, ids: Iterable[str], sep: str = " · ") -> str:
        return sep.join(self.req(r) for r in ids)

    def action(self, kind: str | None) -> str:
        return ACTIONS.get(kind or "", kind or "")

    def outcome(self, outcome: str | None) -> str:
        return OUTCOMES.get(outcome or "", outcome or "")

    def status(self, status: str | None) -> str:
        return STATUSES.get(status or "", status or "")

    def action_class(self, key: str) -> str:
        """An action class (policy/tabu.py's "img2img|s=0.80") in words: "a redraw at strength 0.8"."""
        kind, *parts = key.split("|")
        bits = [self.action(kind)]
        for p in parts:
            name, _, value = p.partition("=")
            if name == "s":
                bits.append(f"at strength {float(value):g}")
            elif name == "r":
                bits.append("there")
            elif name != "n":
                bits.append(p)
        return " ".join(bits)

    def error(self, message: str | None) -> str:
        """An error for a person: its message, without the class names of the code that raised it."""
        return _CLASS_NAME.sub("", message or "").strip()

    def reason(self, text: str | None) -> str:
        """A policy reason with requirement texts for ids and plain words for the policy's terms."""
        if not text:
            return ""
        for pattern in _LISTS:  # lists of ids, plain-word ids ("background") included
            text = re.sub(pattern, lambda m: m.group(0).replace(m.group(1), self._list(m.group(1))), text)
        text = self._ids().sub(lambda m: f"“{self.req(m.group(0))}”", text) if self.texts else text
        for pattern, plain in PHRASES:
            text = re.sub(pattern, plain, text)
        return _TOOL_WORDS.sub(lambda m: self.action(m.group(0)), text)

    def _list(self, items: str) -> str:
        parts = [p.strip() for p in items.split(",")]
        if not all(p in self.texts or p in self.groups for p in parts):
            return items
        return ", ".join(f"“{self.texts.get(p) or self.groups[p]}”" for p in parts)

    def _ids(self) -> re.Pattern:
        """Ids that cannot be an ordinary word (they have a dot, a digit or an underscore), and object groups."""
        if self._pattern is None:
            ids = [i for i in self.texts if re.search(r"[.\d_]", i)] + [g for g in self.groups if g not in self.texts]
            alt = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) or r"(?!x)x"
            self._pattern = re.compile(rf"(?<![\w.“])({alt})(?![\w.”])")
        return self._pattern

    # -- events ----------------------------------------------------------------------------------
    def event(self, e: Event) -> str | None:
        """One line for an event, or None for events not worth one (they learn what later lines need)."""
        self.learn_event(e)
        if isinstance(e, PlanEvent):
            return f"the checklist ({len(e.checklist)}): " + "; ".join(c.split(": ", 1)[-1] for c in e.checklist)
        if isinstance(e, EnterEvent):
            return f"continuing — {self.reason(e.reason or 'you continue')}"
        if isinstance(e, DecideEvent):
            return f"next: {self.action(e.decision)} — {self.reason(e.reason)}"
        if isinstance(e, RewriteEvent):
            if e.error:
                return f"the prompt could not be rewritten ({self.error(e.error)}); the current one is kept"
            return f"new prompt: {e.prompt or ''}"
        if isinstance(e, GenerateEvent):
            if e.cancelled:
                return f"{self.action(e.action)} cancelled: you stopped it; nothing was added to the tree"
            if e.error:
                return f"{self.action(e.action)} could not be made: {self.error(e.error)}"
            return (f"{', '.join(e.nodes)} · {self.action(e.action)} from {e.parent} · seed "
                    f"{', '.join(map(str, e.seeds))} · {e.engine_seconds:.2f} s")
        if isinstance(e, CritiqueEvent):
            if e.error:
                return f"the critic could not judge {e.node_id}: {self.error(e.error)}"
            return f"{e.node_id}: score {e.score or 0:.2f} · {self.verdicts(e.failed)}"
        if isinstance(e, SelectEvent):
            return self.select(e)
        if isinstance(e, BacktrackEvent):
            return f"↩ back to {e.to} — {self.reason(e.reason)}"
        if isinstance(e, AskHumanEvent):
            said = self.answer(e.answer)
            return f"{said} — the brief changes with you: {self.amendment(e.amendment)}" if e.amendment else said
        if isinstance(e, FinishEvent):
            best = f" · the answer is {e.best} (score {e.best_score:.2f})" if e.best and e.best_score is not None else ""
            return f"finished: {self.status(e.status)} — {self.reason(e.reason)}{best}"
        return None

    def verdicts(self, failed: list[str]) -> str:
        return "✓ everything passes" if not failed else "✗ " + self.reqs(failed)

    def select(self, e: SelectEvent) -> str | None:
        if e.outcome == "start":
            return None
        if e.amendment:
            return f"{e.node_id or ''} · the brief changes with you: {self.amendment(e.amendment)}"
        if e.question:
            return f"{e.node_id or ''} · {e.question}"
        reason = f" — {self.reason(e.reason)}" if e.reason else ""
        return f"{e.node_id or ''} {self.outcome(e.outcome)}{reason}".strip()

    def amendment(self, a: dict) -> str:
        """ "“a blue square” → “a green circle”" for each requirement a person's change replaced or added."""
        replaced = {r["id"]: r["text"] for r in a.get("replaced", [])}
        parts = []
        for r in a.get("added", []):
            olds = [replaced.pop(i) for i in r.get("replaces") or [] if i in replaced]
            parts.append(f"“{' / '.join(olds)}” → “{r['text']}”" if olds else f"+ “{r['text']}”")
        parts += [f"“{text}” dropped" for text in replaced.values()]
        return "; ".join(parts)

    def answer(self, a: dict) -> str:
        """What the person said, as the chat shows it."""
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
        if kind == "amend":
            return "keep my change" if a.get("keep") == "change" else "keep the brief as it was"
        return {"accept": "accept", "continue": "go on", "stop": "stop"}.get(kind, str(kind))
