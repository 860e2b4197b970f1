"""The critic protocol: plan a brief, critique an image, rank images, check for drift.

Every critic (the shapes world's exact one, a VLM over an OpenAI-compatible server, a scripted
one for tests, a CLIP-style scorer) implements this one small interface and is built from a spec
string by :mod:`agent.critics.registry`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field

from agent.contracts import Critique, DriftReport, Ranking, Requirement, Usage
from agent.policy.outcome import losses
from agent.vlm.errors import ModelError, ModelUnavailable
from tools.errors import SculptError, Unreachable


class CriticError(SculptError):
    """The critic gave no usable answer. ``usage`` is what the attempts cost."""

    def __init__(self, message: str, *, usage: Usage | None = None, last_reply: str | None = None):
        super().__init__(message)
        self.usage = usage or Usage()
        self.last_reply = last_reply


class CriticUnavailable(CriticError, Unreachable):
    """The critic could not be reached (connection, timeouts, server errors) after its retries."""


class CriticReplyError(CriticError):
    """The critic answered, but not usably (invalid JSON, schema violations, refusal, empty), even
    after being re-asked with the error."""


def critic_error(exc: ModelError) -> CriticError:
    """A model client's error as the critic's own: unreachable stays unreachable (the run stops,
    resumable), an unusable reply stays a reply error; the cost and the last reply go with it."""
    kind = CriticUnavailable if isinstance(exc, ModelUnavailable) else CriticReplyError
    return kind(str(exc), usage=exc.usage, last_reply=exc.last_reply)


class Plan(BaseModel):
    """A brief turned into a fixed checklist and the prompt to start from."""

    checklist: list[Requirement]
    prompt: str
    negative_prompt: str | None = None
    usage: Usage = Field(default_factory=Usage)
    notes: str = ""


class Critic(ABC):
    """Judges images against a brief's checklist."""

    #: identity recorded with every critique, e.g. "scene" or "openai:gpt-4o"
    name: str = "critic"
    #: whether verdicts are exact (ground truth) rather than a model's judgement
    exact: bool = False

    @abstractmethod
    def plan(self, brief: str) -> Plan:
        """Turn a brief into a checklist of atomic, verifiable requirements."""

    @abstractmethod
    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        """Answer every requirement for one image."""

    def rank(self, images: list[Image.Image], brief: str, checklist: list[Requirement],
             critiques: list[Critique] | None = None) -> Ranking:
        """Order images best first. By default by critique score; ties keep the given order."""
        critiques = critiques or [self.critique(im, brief, checklist) for im in images]
        scores = [c.score for c in critiques]
        order = sorted(range(len(images)), key=lambda i: (-scores[i], i))
        tie = len(images) == 2 and scores[0] == scores[1]
        usage = sum((c.usage for c in critiques), Usage())
        return Ranking(order=order, tie=tie, scores=scores, critic=self.name, usage=usage,
                       reason="ordered by critique score")

    #: True when a judgement cannot depend on the order images are shown in (score-based critics)
    order_invariant: bool = True

    def judge_pair(self, first: Image.Image, second: Image.Image, brief: str,
                   checklist: list[Requirement]) -> Ranking:
        """One judgement with the images shown in this order: order [0, 1] prefers ``first``."""
        return self.rank([first, second], brief, checklist)

    def compare(self, a: Image.Image, b: Image.Image, brief: str, checklist: list[Requirement]) -> Ranking:
        """Which of two images better fulfils the brief: order [winner, loser], or a tie.

        Order-sensitive critics are asked in both orders; when the two answers disagree the result
        is a tie marked ``position_consistent=False`` (position bias cancelled, not hidden).
        """
        ab = self.judge_pair(a, b, brief, checklist)
        if self.order_invariant:
            return ab
        ba = self.judge_pair(b, a, brief, checklist)
        usage = ab.usage + ba.usage
        first_wins_ab = None if ab.tie else ab.best == 0
        a_wins_ba = None if ba.tie else ba.best == 1
        if first_wins_ab is not None and first_wins_ab == a_wins_ba:
            return ab.model_copy(update={"usage": usage, "reason": ab.reason})
        if first_wins_ab is None and a_wins_ba is None:
            return ab.model_copy(update={"usage": usage, "tie": True})
        return Ranking(order=[0, 1], tie=True, position_consistent=False, critic=self.name, usage=usage,
                       prompt_version=ab.prompt_version,
                       reason=f"the two presentation orders disagreed ({ab.reason} / {ba.reason})")

    def drift(self, before: Image.Image, after: Image.Image, brief: str, checklist: list[Requirement],
              held: list[str], after_critique: Critique | None = None) -> DriftReport:
        """Which of the requirements that ``held`` in ``before`` are lost in ``after``."""
        crit = after_critique or self.critique(after, brief, checklist)
        lost = losses(held, crit.failed_ids)
        evidence = "; ".join(f"{rid}: {crit.verdict(rid).evidence}" for rid in lost if crit.verdict(rid))
        return DriftReport(lost=lost, evidence=evidence,
                           usage=Usage() if after_critique else crit.usage)

    def feedback_requirements(self, text: str, brief: str, checklist: list[Requirement]) -> list[Requirement]:
        """Requirements a person's feedback adds (chat mode). Critics that can check free text add it."""
        n = sum(1 for r in checklist if r.id.startswith("feedback"))
        return [Requirement(id=f"feedback{n + 1}", text=text.strip(), kind="other")]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "exact": self.exact}
