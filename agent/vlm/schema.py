"""The JSON a model critic and rewriter are asked to reply with, as pydantic models.

These are wire formats, kept apart from :mod:`agent.contracts`: boxes arrive as raw numbers in
whatever convention the model used (converted to Regions afterwards, knowing the sent image's
size), and optional parts have defaults so that a model outside strict structured output that
leaves out an empty list is not re-asked for it.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tools.contracts import RequirementKind

Box = Annotated[list[float], Field(min_length=4, max_length=4,
                                   description="[x0, y0, x1, y1]: left, top, right, bottom as fractions (0 to 1) "
                                               "of the image width and height, origin at the top left")]


class RequirementReply(BaseModel):
    id: str = Field(min_length=1, description="short unique id, e.g. r1")
    text: str = Field(min_length=1, description="one atomic fact a viewer can check on the image")
    kind: RequirementKind = "other"
    group: str | None = Field(None, description="the object this requirement is about (e.g. 'cat'), shared by "
                                                "every requirement about the same object; null for global ones")


class PlanReply(BaseModel):
    checklist: list[RequirementReply] = Field(min_length=1)
    prompt: str = Field(min_length=1, description="a text-to-image prompt to start from")
    negative_prompt: str | None = None
    notes: str = ""


class VerdictReply(BaseModel):
    id: str
    passed: bool
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    evidence: str = Field("", description="what in the image shows it")
    box: Box | None = Field(None, description="for a failure confined to one place: where the fix belongs")


class DefectReply(BaseModel):
    kind: Literal["add", "remove", "replace", "global"] = "replace"
    description: str
    box: Box | None = None
    requirement_ids: list[str] = Field(default_factory=list)
    prompt: str | None = Field(None, description="what belongs in the box, and only that")


class RecommendationReply(BaseModel):
    kind: Literal["accept", "inpaint", "variations", "img2img", "rewrite_prompt"]
    strength: float | None = Field(None, gt=0.0, le=1.0, description="for img2img/variations: 0.3-0.6 keeps "
                                                                      "the layout, 0.75+ rebuilds")
    box: Box | None = Field(None, description="for inpaint: the region to repaint")
    prompt: str | None = None
    reason: str = ""


class CritiqueReply(BaseModel):
    verdicts: list[VerdictReply]
    score: float = Field(ge=0.0, le=1.0, description="how well the image fulfils the brief, 0 to 1")
    defects: list[DefectReply] = Field(default_factory=list)
    recommended: RecommendationReply | None = None
    summary: str = ""


class PairReply(BaseModel):
    better: Literal["first", "second", "tie"]
    reason: str = ""


class RankReply(BaseModel):
    order: list[int] = Field(description="image numbers (1 = the first image shown), best first, each once")
    scores: list[float] | None = Field(None, description="a 0-1 score per image, in the order shown")
    reason: str = ""


class DriftReply(BaseModel):
    lost: list[str] = Field(description="ids of the held requirements that the second image no longer meets")
    evidence: str = ""


class RewriteReply(BaseModel):
    prompt: str = Field(min_length=1)
    negative_prompt: str | None = None
    reason: str = ""
