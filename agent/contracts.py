"""The agent's data contracts: critiques, comparisons, actions and tree nodes.

Pydantic at the edges (critics, CLI, files); inside graph state they travel as plain dicts made by
``model_dump(mode="json")``, so a checkpoint stays small and JSON-able.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from tools.contracts import Defect, Region, Requirement

__all__ = [
    "Region", "Requirement", "Verdict", "Defect", "Located", "Usage", "Recommendation", "Critique", "Ranking",
    "DriftReport", "Action", "ToolKind", "Amendment",
]

# What a critic may recommend: an image tool, or a move of the agent's own.
RecommendedKind = Literal["txt2img", "img2img", "inpaint", "variations", "rewrite_prompt", "backtrack", "accept",
                          "ask_human"]
# What the engine can carry out: the four image tools.
ToolKind = Literal["txt2img", "img2img", "inpaint", "variations"]


class Usage(BaseModel):
    """What a model call cost: tokens, dollars, calls and seconds. Usages add up."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(calls=self.calls + other.calls, input_tokens=self.input_tokens + other.input_tokens,
                     output_tokens=self.output_tokens + other.output_tokens,
                     cost_usd=self.cost_usd + other.cost_usd, seconds=self.seconds + other.seconds)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_spend(self) -> dict[str, float]:
        """This usage as increments of a run's spend (see agent/state.py)."""
        return {"critic_calls": self.calls, "tokens": self.tokens, "usd": round(self.cost_usd, 6),
                "critic_seconds": round(self.seconds, 4)}


class Verdict(BaseModel):
    """The critic's answer for one requirement on one image."""

    id: str
    passed: bool
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: str = ""
    region: Region | None = None  # where the fix belongs, for a local failure
    # False where the critic cannot tell this kind of requirement apart (its card, agent/critics/card.py):
    # the verdict passes for want of a judge and its evidence says so.
    judged: bool = True

    @model_serializer(mode="wrap")
    def _judged_only_when_not(self, handler):
        # A judged verdict is written as it always was: files and checkpoints stay the same.
        data = handler(self)
        if isinstance(data, dict) and self.judged:
            data.pop("judged", None)
        return data


class Located(BaseModel):
    """An object the critic (or its localiser) found in the image, whether or not it passes: repaints
    spare the boxes of what is right, and a claimed loss outside a repaint can be checked."""

    label: str  # what it is, in the brief's words ("red circle")
    region: Region
    group: str | None = None  # the brief's object it was matched to (Requirement.group), if any
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    source: Literal["critic", "localiser", "person"] = "critic"


class Recommendation(BaseModel):
    """The critic's own suggestion for the next move; the decision rules validate it."""

    kind: RecommendedKind
    strength: float | None = None
    region: Region | None = None
    prompt: str | None = None
    reason: str = ""


class Critique(BaseModel):
    """Every requirement answered for one image, an overall score and what to fix."""

    verdicts: list[Verdict]
    score: float = Field(ge=0.0, le=1.0)
    defects: list[Defect] = Field(default_factory=list)
    recommended: Recommendation | None = None
    objects: list[Located] = Field(default_factory=list)  # where things are, passing or not
    summary: str = ""
    critic: str = ""  # identity of the critic that produced it
    prompt_version: str | None = None  # template name@version for model critics
    usage: Usage = Field(default_factory=Usage)

    @property
    def passed_ids(self) -> list[str]:
        return [v.id for v in self.verdicts if v.passed]

    @property
    def failed_ids(self) -> list[str]:
        return [v.id for v in self.verdicts if not v.passed]

    @property
    def all_passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def verdict(self, req_id: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.id == req_id), None)


class Ranking(BaseModel):
    """Images ordered best first. For two images, ``order`` is [winner, loser], or ``tie`` is set."""

    order: list[int]
    tie: bool = False
    scores: list[float] | None = None
    reason: str = ""
    # Judged in both presentation orders; False when the two orders disagreed (reported as a tie).
    position_consistent: bool = True
    critic: str = ""
    prompt_version: str | None = None
    usage: Usage = Field(default_factory=Usage)

    @property
    def best(self) -> int:
        return self.order[0]


class DriftReport(BaseModel):
    """Which requirements that held at the branch point are lost in the new image."""

    lost: list[str] = Field(default_factory=list)
    evidence: str = ""
    usage: Usage = Field(default_factory=Usage)

    @property
    def drifted(self) -> bool:
        return bool(self.lost)


class Action(BaseModel):
    """One image tool call, validated, so a bad recommendation or answer never runs.

    Decided by the policy (or a person), completed on the way (a rewritten prompt, seeds), and
    recorded on the nodes it made exactly as the engine carried it out.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ToolKind
    prompt: str | None = None  # None until decided: the node's own prompt, or a rewrite
    negative_prompt: str | None = None
    strength: float | None = None
    n: int | None = None  # variations
    regions: list[Region] = Field(default_factory=list)  # inpaint: the first is where a guide draws
    guide: dict[str, Any] | None = None  # inpaint: the colours that prime the region (tools/engine/guides.py)
    seeds: list[int] = Field(default_factory=list)
    reason: str = ""
    source: Literal["rules", "critic", "human"] = "rules"
    # A witness: a light redraw of this node, judged independently, to confirm its critique.
    check: str | None = None
    # inpaint: boxes kept out of the mask (objects that hold, spared by the repaint).
    keep: list[Region] = Field(default_factory=list)
    # A second step carried out on this one's image, the two judged as one outcome (a move: the
    # object painted at its new place, then its old copy removed).
    then: "Action | None" = None
    # A planned layout, for a fresh sample that starts closer: an img2img starts from a sketch of it
    # instead of a node's image; a txt2img's prompt is written from it (its rewrite job "layout").
    # {"background": colour, "blobs": [{"group", "label", "colour", "box", "size"}]}
    layout: dict[str, Any] | None = None

    @field_validator("strength")
    @classmethod
    def _strength(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= 1:
            raise ValueError(f"strength must be in (0, 1], got {v}")
        return v

    @field_validator("n")
    @classmethod
    def _n(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"n must be >= 1, got {v}")
        return v

    @model_validator(mode="after")
    def _complete(self) -> "Action":
        if self.kind in ("img2img", "variations", "inpaint") and self.strength is None:
            raise ValueError(f"{self.kind} needs a strength")
        if self.kind == "inpaint" and not self.regions:
            raise ValueError("inpaint needs at least one region")
        return self

    @model_validator(mode="after")
    def _steps(self) -> "Action":
        if self.then is not None and (self.kind != "inpaint" or self.then.kind != "inpaint"):
            raise ValueError("only an inpaint can be followed by a second step, itself an inpaint")
        if self.layout is not None and self.kind not in ("img2img", "txt2img"):
            raise ValueError("a planned layout starts a fresh image: an img2img from its sketch, or a txt2img")
        return self

    @property
    def fresh(self) -> bool:
        """A new image, not an edit: a txt2img, or an img2img from a sketch of a planned layout."""
        return self.kind == "txt2img" or self.layout is not None

    @property
    def generations(self) -> int:
        """Images this action will make: the unit the generation budget counts."""
        own = (self.n or 1) if self.kind == "variations" else 1
        return own + (self.then.generations if self.then is not None else 0)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


class Amendment(BaseModel):
    """A person's change to the brief (chat): the requirements it replaced and the ones it added, as
    agent/policy/amend.py decided it. Recorded on the node their request made; every later image is
    judged against the amended checklist."""

    model_config = ConfigDict(extra="forbid")

    by: Literal["person"]  # who changed it (no default: a tree written without defaults still says so)
    request: str | None = None  # what the person asked for, in their words
    replaced: list[Requirement] = Field(default_factory=list)  # as they were before the change
    added: list[Requirement] = Field(default_factory=list)  # amended_by "person"; ``replaces`` names the old ids
    brief: str | None = None  # the brief as amended, where the critic reads it (the shapes world)
    prompt: str | None = None  # the prompt that describes the amended scene
    version: int = 1  # the checklist's version from this change on (0: as planned)

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
