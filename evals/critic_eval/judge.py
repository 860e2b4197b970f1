"""Judging one pair with one critic in both presentation orders, through the cache.

Each order is one call of ``critic.judge_pair`` (never ``compare``, which may skip the second order
for critics that declare themselves order-invariant): the harness measures position bias rather
than trusting the declaration.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from agent.contracts import Ranking, Usage
from agent.critics.base import CriticError, CriticUnavailable, Plan
from evals.critic_eval.cache import JudgementCache, judgement_key, plan_key
from evals.critic_eval.critics import EvalCritic
from evals.critic_eval.errors import CriticEvalError, EvaluationStopped
from evals.critic_eval.pairs import A, B, TIE, Pair
from tools.errors import InputError

FAIL = "fail"  # the critic gave no usable answer for this order (or for the pair)
_REASON_CHARS = 300


@dataclass
class Judgement:
    """One call: the winner by position (``first``, ``second``, ``tie``), or an error."""

    winner: str | None
    scores: list[float] | None = None  # [first, second] where the critic scores images
    error: str | None = None
    reason: str = ""
    prompt_version: str | None = None  # the template the critic reports having used
    usage: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    called: bool = True  # False when no call was made (the prompt could not be planned)
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"winner": self.winner, "scores": self.scores, "error": self.error, "reason": self.reason,
                "prompt_version": self.prompt_version, "usage": self.usage, "seconds": self.seconds,
                "called": self.called}

    @classmethod
    def from_dict(cls, d: dict[str, Any], cached: bool = False) -> "Judgement":
        return cls(winner=d.get("winner"), scores=d.get("scores"), error=d.get("error"),
                   reason=d.get("reason", ""), prompt_version=d.get("prompt_version"),
                   usage=d.get("usage") or {}, seconds=d.get("seconds", 0.0),
                   called=d.get("called", True), cached=cached)

    def label(self, order: str) -> str:
        """The winner as image a / b / tie, given the order the images were shown in."""
        if self.winner is None:
            return FAIL
        if self.winner == "tie":
            return TIE
        first_is_a = order == "ab"
        return A if (self.winner == "first") == first_is_a else B


@dataclass
class PairOutcome:
    """Both judgements of one pair by one critic, with the pair's label and bookkeeping."""

    index: int
    source: str
    group: str
    split: str  # "val" (threshold tuning) or "test"
    human: str
    ab: Judgement  # a shown first
    ba: Judgement  # b shown first
    margins: tuple[float, ...] = ()

    @property
    def pred_ab(self) -> str:
        return self.ab.label("ab")

    @property
    def pred_ba(self) -> str:
        return self.ba.label("ba")

    @property
    def pred(self) -> str:
        """Both orders combined: a winner only when both name it; disagreement is a tie."""
        ab, ba = self.pred_ab, self.pred_ba
        if FAIL in (ab, ba):
            return FAIL
        return ab if ab == ba else TIE

    @property
    def delta(self) -> float | None:
        """Mean score difference score(a) - score(b) over the two orders, where both have scores."""
        if self.ab.scores is None or self.ba.scores is None:
            return None
        return ((self.ab.scores[0] - self.ab.scores[1]) + (self.ba.scores[1] - self.ba.scores[0])) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "source": self.source, "group": self.group, "split": self.split,
                "human": self.human, "pred": self.pred, "pred_ab": self.pred_ab, "pred_ba": self.pred_ba,
                "delta": self.delta, "ab": self.ab.to_dict(), "ba": self.ba.to_dict()}


def split_of(group: str, seed: int, val_fraction: float) -> str:
    """Prompts, not pairs, go to validation or test, so one prompt never informs its own threshold."""
    u = int(hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()[:12], 16) / 16**12
    return "val" if u < val_fraction else "test"


def from_ranking(r: Ranking, seconds: float) -> Judgement:
    usage = r.usage.model_dump()
    if sorted(r.order) != [0, 1]:
        return Judgement(winner=None, error=f"ranking order {r.order} is not a permutation of [0, 1]",
                         usage=usage, seconds=seconds)
    scores = None
    if r.scores is not None and len(r.scores) == 2 and all(math.isfinite(s) for s in r.scores):
        scores = [float(s) for s in r.scores]
    winner = "tie" if r.tie else ("first" if r.order[0] == 0 else "second")
    return Judgement(winner=winner, scores=scores, reason=r.reason[:_REASON_CHARS],
                     prompt_version=r.prompt_version, usage=usage, seconds=seconds)


class PairJudge:
    """One critic's judge: plans each prompt once, judges pairs both ways, caches every answer."""

    _PLAN_MEMO = 256  # parsed plans kept in memory; the rest are a cache lookup away

    def __init__(self, critic: EvalCritic, cache: JudgementCache):
        self.ec = critic
        self.cache = cache
        self.fresh_calls = 0  # judge_pair and plan calls made by this run (not from the cache)
        self.plan_usage = Usage()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._plans: OrderedDict[str, Plan | str] = OrderedDict()
        self._plans_counted: set[str] = set()

    def judge(self, pair: Pair, index: int, split: str) -> PairOutcome:
        plan = self._plan(pair)
        ab = self._one(pair, "ab", plan)
        ba = self._one(pair, "ba", plan)
        return PairOutcome(index=index, source=pair.source, group=pair.group, split=split, human=pair.human,
                           ab=ab, ba=ba, margins=pair.margins)

    def _one(self, pair: Pair, order: str, plan: Plan | str) -> Judgement:
        first, second = (pair.a, pair.b) if order == "ab" else (pair.b, pair.a)
        key = judgement_key(self.ec.identity, self.ec.prompt_version, pair.prompt, first.digest(),
                            second.digest())
        hit = self.cache.get(key)
        if hit is not None:
            return Judgement.from_dict(hit, cached=True)
        if isinstance(plan, str):  # the prompt could not be planned: no call, nothing to cache
            return Judgement(winner=None, error=plan, called=False)
        image_a, image_b = pair.images()
        shown = (image_a, image_b) if order == "ab" else (image_b, image_a)
        t0 = time.perf_counter()
        try:
            ranking = self.ec.critic.judge_pair(shown[0], shown[1], pair.prompt, plan.checklist)
        except CriticUnavailable as exc:
            raise self._stopped(exc) from exc
        except CriticError as exc:  # CriticReplyError and kin: the critic answered, but unusably
            judgement = Judgement(winner=None, error=str(exc), usage=exc.usage.model_dump(),
                                  seconds=time.perf_counter() - t0)
        else:
            judgement = from_ranking(ranking, time.perf_counter() - t0)
        self.cache.put(key, judgement.to_dict(), critic=self.ec.label)
        with self._lock:
            self.fresh_calls += 1
        return judgement

    def _plan(self, pair: Pair) -> Plan | str:
        """The critic's checklist for the prompt, or the error text when it could not make one."""
        key = plan_key(self.ec.identity, self.ec.prompt_version, pair.prompt)
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one call per prompt even when several workers need it at once
            entry = self.cache.get(key)
            if entry is None:
                entry = self._call_plan(pair)
                self.cache.put(key, entry, critic=self.ec.label)
            result: Plan | str = (Plan.model_validate(entry["plan"]) if "plan" in entry
                                  else f"planning failed: {entry['error']}")
            with self._lock:
                if key not in self._plans_counted:
                    self._plans_counted.add(key)
                    self.plan_usage = self.plan_usage + Usage.model_validate(entry.get("usage") or {})
                self._plans[key] = result
                if len(self._plans) > self._PLAN_MEMO:
                    self._plans.popitem(last=False)
                self._key_locks.pop(key, None)
        return result

    def _call_plan(self, pair: Pair) -> dict[str, Any]:
        try:
            plan = self.ec.critic.plan(pair.prompt)
        except CriticUnavailable as exc:
            raise self._stopped(exc) from exc
        except CriticError as exc:
            entry: dict[str, Any] = {"error": str(exc), "usage": exc.usage.model_dump()}
        except InputError as exc:
            raise CriticEvalError(f"critic {self.ec.label!r} cannot judge the prompt of {pair.source} "
                                  f"({pair.prompt!r:.120}): {exc}") from exc
        else:
            entry = {"plan": plan.model_dump(mode="json"), "usage": plan.usage.model_dump()}
        with self._lock:
            self.fresh_calls += 1
        return entry

    def _stopped(self, exc: Exception) -> EvaluationStopped:
        return EvaluationStopped(f"critic {self.ec.label!r} is unreachable ({exc}); every finished judgement "
                                 "is cached, so rerunning the same command resumes where this one stopped")
