"""The prompt-rewriter protocol: a new prompt from the critique, never one already tried."""
from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel, Field

from agent.contracts import Critique, Defect, Requirement, Usage


class Rewrite(BaseModel):
    prompt: str
    negative_prompt: str | None = None
    reason: str = ""
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str | None = None


class Rewriter(ABC):
    name: str = "rewriter"

    @abstractmethod
    def rewrite(self, brief: str, checklist: list[Requirement], critique: Critique, current_prompt: str,
                tried: list[str], hints: list[str] | None = None) -> Rewrite | None:
        """A prompt not in ``tried`` that should fix the critique's failures, or None if there is none."""

    @abstractmethod
    def region_prompt(self, brief: str, checklist: list[Requirement], defect: Defect, critique: Critique,
                      current_prompt: str) -> Rewrite:
        """The prompt for inpainting a defect's region: what belongs there, and only that."""
