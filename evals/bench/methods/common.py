"""What a method gets (a :class:`Trial`) and gives back (a :class:`MethodResult`), and the driving critic.

A method sees one brief, one seed, one budget and an engine proxy that enforces the budget. It
returns every image it made, in order, and its answer after each image, so the success-versus-
budget curve comes from the same runs as the final result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from agent.contracts import Critique, Usage
from agent.critics.base import Critic, CriticError, CriticUnavailable
from agent.components import critic_for
from evals.bench.counting import CountingEngine
from evals.bench.errors import BenchStopped


@dataclass(frozen=True)
class LoopbackOptions:
    """A1111 loopback settings: strength moves from ``initial`` to ``final`` along ``curve``."""

    initial: float = 0.5
    final: float = 0.3
    curve: str = "linear"  # linear | aggressive | lazy


@dataclass
class Trial:
    """One method on one brief."""

    brief: str  # the canonical brief text
    brief_id: str
    seed: int  # the brief's seed; methods that use more seeds count up from it
    budget: int  # images
    engine: CountingEngine
    critic_spec: str
    critic_options: dict[str, Any]
    out: Path  # the benchmark's output folder
    localiser: str | None = None  # hf:PATH_OR_ID, for the agent's regions
    model: str = "shapes"  # the model as given, recorded in the agent's run.json
    loopback: LoopbackOptions = field(default_factory=LoopbackOptions)
    policy: dict[str, Any] = field(default_factory=dict)  # the agent's rule settings (PolicyConfig fields)

    def make_critic(self) -> Critic:
        # A fresh critic for every trial: a stateful critic (scripted, or one with a cache) must
        # answer the same whichever trials ran before, or a resumed benchmark would differ.
        return critic_for(self.critic_spec, self.critic_options, self.localiser)


@dataclass
class Shot:
    """One image a method made."""

    task: str
    seed: int
    prompt: str
    image: Image.Image | None = None  # in memory; None when it is already on disk (``path``)
    strength: float | None = None
    score: float | None = None  # the driving critic's score; None when no critic looked or it failed
    # The driving critic passed every requirement (the method's claim of success when this image
    # is its answer); None when no critic looked or it failed.
    claimed: bool | None = None
    path: str | None = None  # relative to the benchmark output
    digest: str | None = None  # content hash, when known
    node: str | None = None  # agent tree node id, and its parent
    parent: str | None = None


@dataclass
class MethodResult:
    shots: list[Shot]
    # choice[k-1]: index into shots of the method's answer after k images (None: no answer yet).
    choice: list[int | None]
    final: int | None
    # After a method stops early, its answer stands for the rest of the budget; False for methods
    # whose result is defined at one budget only (single).
    extends: bool = True
    usage: dict[str, float] = field(default_factory=lambda: usage_dict(Usage()))
    info: dict[str, Any] = field(default_factory=dict)  # deterministic method details
    measured: dict[str, float] = field(default_factory=dict)  # timings and sizes


def usage_dict(u: Usage) -> dict[str, float]:
    return {"critic_calls": u.calls, "tokens": u.tokens, "usd": round(u.cost_usd, 6)}


def best_so_far(scores: list[float | None]) -> list[int]:
    """Index of the best score among the first k, for every k; ties keep the earlier image."""
    out: list[int] = []
    best, best_value = -1, float("-inf")
    for i, s in enumerate(scores):
        value = -1.0 if s is None else s  # an image the critic could not judge ranks last
        if value > best_value:
            best, best_value = i, value
        out.append(best)
    return out


class DrivingCritic:
    """The critic that drives a method: plans once, critiques, and keeps what it cost."""

    def __init__(self, trial: Trial):
        self.trial = trial
        self.critic = trial.make_critic()
        self.usage = Usage()
        try:
            plan = self.critic.plan(trial.brief)
        except CriticUnavailable as exc:
            raise self._stopped(exc) from exc
        self.usage += plan.usage
        self.checklist = plan.checklist
        self.prompt = plan.prompt

    def _stopped(self, exc: CriticError) -> BenchStopped:
        return BenchStopped(f"the critic {self.trial.critic_spec} is unreachable ({exc}); every finished "
                            "result is saved: rerun the same command to continue")

    def critique(self, image: Image.Image) -> Critique | None:
        """The critique, or None when the critic gave no usable answer (the image then ranks last)."""
        try:
            crit = self.critic.critique(image, self.trial.brief, self.checklist)
        except CriticUnavailable as exc:
            self.usage += exc.usage
            raise self._stopped(exc) from exc
        except CriticError as exc:
            self.usage += exc.usage
            return None
        self.usage += crit.usage
        return crit

    def spent(self) -> dict[str, float]:
        return usage_dict(self.usage)

    def measured(self) -> dict[str, float]:
        return {"critic_s": round(self.usage.seconds, 4)}
