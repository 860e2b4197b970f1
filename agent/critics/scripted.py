"""A scripted critic: answers from a script, for tests and demonstrations.

It stands in for what cannot run here (a large VLM) and is never tuned to make a test pass: the
script states the critic's answers, the test asserts what the agent does with them.

Script (a dict, or a JSON file for ``--critic scripted:PATH``)::

    {"critiques": [                       # one entry per critique call, in order
        {"fail": ["g0.object"], "regions": {"g0.object": [0, 0, 0.5, 0.5]}},
        {"pass": "all"},
        {"error": "reply"}                # or "unavailable": raise the critic's errors; "crash": a
                                          # RuntimeError, as a bug in a critic would
     ],
     "then": "repeat",                    # when the script runs out: repeat the last entry, or
                                          # "delegate" to the exact shapes critic
     "prefer": "score"}                   # ranking: by score, or always "first" / "last" (biased)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from agent.contracts import Critique, Defect, Ranking, Region, Requirement, Usage, Verdict
from agent.critics.base import Critic, CriticReplyError, CriticUnavailable, Plan
from agent.critics.scene import SceneCritic
from tools.errors import BriefError, InputError


class ScriptedCritic(Critic):
    name = "scripted"

    def __init__(self, script: dict[str, Any] | None = None, name: str = "scripted"):
        script = script or {}
        unknown = set(script) - {"critiques", "then", "prefer", "plan"}
        if unknown:
            raise InputError(f"unknown keys in critic script: {sorted(unknown)}; "
                             "use critiques, then, prefer, plan")
        self.steps: list[dict[str, Any]] = list(script.get("critiques", []))
        self.then = script.get("then", "repeat" if self.steps else "delegate")
        if self.then not in ("repeat", "delegate"):
            raise InputError(f"script 'then' must be 'repeat' or 'delegate', not {self.then!r}")
        self.prefer = script.get("prefer", "score")
        if self.prefer not in ("score", "first", "last"):
            raise InputError(f"script 'prefer' must be score, first or last, not {self.prefer!r}")
        # A critic biased towards a position must be asked in both orders to expose the bias.
        self.order_invariant = self.prefer == "score"
        self.plan_override = script.get("plan")
        self.name = name
        self.calls = 0
        self._scene = SceneCritic()

    @classmethod
    def from_file(cls, path: str | Path) -> "ScriptedCritic":
        p = Path(path)
        try:
            script = json.loads(p.read_text())
        except FileNotFoundError:
            raise InputError(f"critic script {p} does not exist") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"critic script {p} is not valid JSON: {exc}") from exc
        return cls(script, name=f"scripted:{p.name}")

    def plan(self, brief: str) -> Plan:
        if self.plan_override:
            return Plan.model_validate(self.plan_override)
        try:
            return self._scene.plan(brief)
        except BriefError:
            # Free text: one requirement per comma-separated clause.
            parts = [p.strip() for p in brief.split(",") if p.strip()]
            return Plan(checklist=[Requirement(id=f"r{i + 1}", text=p) for i, p in enumerate(parts)],
                        prompt=brief)

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        index = self.calls
        self.calls += 1
        if index >= len(self.steps):
            if self.then == "delegate" or not self.steps:
                crit = self._scene.critique(image, brief, checklist)
                return crit.model_copy(update={"critic": self.name})
            step = self.steps[-1]
        else:
            step = self.steps[index]
        if step.get("error") == "crash":
            raise RuntimeError("scripted: the critic crashed")
        if step.get("error") == "unavailable":
            raise CriticUnavailable("scripted: the critic server is unreachable", usage=Usage(calls=1))
        if step.get("error"):
            raise CriticReplyError(f"scripted: unusable reply ({step['error']})", usage=Usage(calls=1),
                                   last_reply=str(step.get("reply", "")))
        ids = [r.id for r in checklist]
        if step.get("pass") == "all":
            passed = set(ids)
        elif "pass" in step:
            passed = set(step["pass"])
        else:
            passed = set(ids) - set(step.get("fail", []))
        regions = {k: Region(x0=v[0], y0=v[1], x1=v[2], y1=v[3]) for k, v in step.get("regions", {}).items()}
        verdicts = [Verdict(id=i, passed=i in passed, confidence=float(step.get("confidence", 0.9)),
                            evidence=f"scripted step {index + 1}", region=None if i in passed else regions.get(i))
                    for i in ids]
        defects = [Defect(kind="replace", description=f"fix {v.id}", region=v.region, requirement_ids=[v.id],
                          prompt=step.get("prompts", {}).get(v.id))
                   for v in verdicts if not v.passed and v.region is not None]
        score = float(step.get("score", sum(v.passed for v in verdicts) / max(1, len(verdicts))))
        return Critique(verdicts=verdicts, score=score, defects=defects, critic=self.name,
                        summary=f"scripted step {index + 1}", usage=Usage(calls=1))

    def rank(self, images: list[Image.Image], brief: str, checklist: list[Requirement],
             critiques: list[Critique] | None = None) -> Ranking:
        if self.prefer == "score":
            return super().rank(images, brief, checklist, critiques)
        order = list(range(len(images)))
        if self.prefer == "last":
            order.reverse()
        return Ranking(order=order, critic=self.name, reason=f"always prefers the {self.prefer} image")
