"""The prompt-rewriter protocol: a new prompt from the critique, never one already tried."""
from __future__ import annotations

from abc import ABC, abstractmethod

from PIL import Image
from pydantic import BaseModel, Field

from agent.contracts import Critique, Defect, Requirement, Usage
from tools.errors import SculptError, Unreachable


class RewriterError(SculptError):
    """The rewriter gave no usable prompt. Not fatal: the action goes ahead with the current prompt.
    ``usage`` is what the attempts cost (charged to the run all the same)."""

    def __init__(self, message: str, *, usage: Usage | None = None):
        super().__init__(message)
        self.usage = usage or Usage()


class RewriterUnavailable(RewriterError, Unreachable):
    """The rewriter's model could not be reached after its retries."""


class Rewrite(BaseModel):
    """A rewriter's answer. ``prompt`` is None when it has nothing untried to offer; the usage is
    reported either way, so what the attempt cost is charged to the run."""

    prompt: str | None
    negative_prompt: str | None = None
    reason: str = ""
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str | None = None


class Rewriter(ABC):
    name: str = "rewriter"
    #: whether rewrite/region_prompt look at the current image (only then is it loaded for them)
    wants_image: bool = False

    @abstractmethod
    def rewrite(self, brief: str, checklist: list[Requirement], critique: Critique | None, current_prompt: str,
                tried: list[str], hints: list[str] | None = None, image: Image.Image | None = None) -> Rewrite:
        """A prompt not in ``tried`` that should fix the critique's failures (``prompt=None`` if none).
        ``image`` is the current image, for rewriters that look."""

    @abstractmethod
    def region_prompt(self, brief: str, checklist: list[Requirement], defect: Defect, critique: Critique | None,
                      current_prompt: str, image: Image.Image | None = None) -> Rewrite:
        """The prompt for inpainting a defect's region: what belongs there, and only that."""

    def layout_prompt(self, brief: str, checklist: list[Requirement], layout: dict, current_prompt: str) -> Rewrite:
        """A prompt that says where each object of a planned layout goes (agent/contracts.py
        ``Action.layout``); ``prompt=None`` when this rewriter cannot say it (the node then rewrites
        as usual)."""
        return Rewrite(prompt=None, reason=f"the {self.name} rewriter does not write layouts")
