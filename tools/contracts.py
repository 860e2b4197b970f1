"""Data contracts shared by the tools and the agent: requirements of a brief and regions of an image.

They are pydantic models at the edges and plain JSON-able dicts inside graph state
(``model_dump()`` / ``model_validate()``).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

RequirementKind = Literal[
    "object", "attribute", "size", "count", "position", "relation", "style", "background", "text", "other"
]


class Requirement(BaseModel):
    """One atomic, verifiable requirement of a brief ("a red circle", "the circle is left of the square")."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    kind: RequirementKind = "other"
    # The object (or group of objects) the requirement is about, if any: requirements sharing a
    # group are what one local fix repairs together. Opaque; filled in by the planner.
    group: str | None = None
    # Machine-checkable details for exact critics (the shapes world); free-form critics ignore it.
    spec: dict[str, Any] | None = None
    # Who changed the brief to make this requirement ("person"), and the requirements it replaced:
    # the checklist evolves with the person in chat (agent/policy/amend.py).
    amended_by: Literal["person"] | None = None
    replaces: tuple[str, ...] = ()

    @model_serializer(mode="wrap")
    def _amendment_only_when_made(self, handler):
        # A requirement nobody changed is written as it always was: files and checkpoints stay the same.
        data = handler(self)
        if isinstance(data, dict):
            if self.amended_by is None:
                data.pop("amended_by", None)
            if not self.replaces:
                data.pop("replaces", None)
        return data


class Region(BaseModel):
    """A normalised box (x0, y0, x1, y1) in 0..1, origin top left, and where it came from when that is
    not the critic itself (a localiser's box, a person's)."""

    model_config = ConfigDict(frozen=True)

    x0: float = Field(ge=0.0, le=1.0)
    y0: float = Field(ge=0.0, le=1.0)
    x1: float = Field(ge=0.0, le=1.0)
    y1: float = Field(ge=0.0, le=1.0)
    source: Literal["critic", "localiser", "person"] | None = None

    @model_serializer(mode="wrap")
    def _source_only_when_known(self, handler):
        # A region without a source is written as it always was: files and checkpoints stay the same.
        data = handler(self)
        if self.source is None and isinstance(data, dict):
            data.pop("source", None)
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> "Region":
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(
                f"region ({self.x0:g}, {self.y0:g}, {self.x1:g}, {self.y1:g}) is empty: "
                "x1 must be greater than x0 and y1 greater than y0"
            )
        return self

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def padded(self, pad: float) -> "Region":
        """Grow by ``pad`` (a fraction of the image) on every side, clamped to the image."""
        return Region(
            x0=max(0.0, self.x0 - pad),
            y0=max(0.0, self.y0 - pad),
            x1=min(1.0, self.x1 + pad),
            y1=min(1.0, self.y1 + pad),
        )

    def iou(self, other: "Region") -> float:
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


class Defect(BaseModel):
    """Something to change: add or replace an object in a region, remove one, or a global fault."""

    kind: Literal["add", "remove", "replace", "global"] = "replace"
    description: str
    region: Region | None = None
    requirement_ids: list[str] = Field(default_factory=list)
    prompt: str | None = None  # what belongs in the region, when the critic knows
    group: str | None = None  # the object the change draws or removes (Requirement.group's ids)
