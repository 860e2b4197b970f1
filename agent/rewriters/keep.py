"""A rewriter that never rewrites: the prompt stays, only seeds and strengths change."""
from __future__ import annotations

from agent.contracts import Critique, Defect, Requirement
from agent.rewriters.base import Rewrite, Rewriter


class KeepRewriter(Rewriter):
    name = "keep"

    def rewrite(self, brief, checklist, critique, current_prompt, tried, hints=None, image=None) -> Rewrite:
        return Rewrite(prompt=None, reason="the keep rewriter never rewrites")

    def region_prompt(self, brief: str, checklist: list[Requirement], defect: Defect, critique: Critique | None,
                      current_prompt: str, image=None) -> Rewrite:
        return Rewrite(prompt=defect.prompt or current_prompt, reason="the critic's prompt, or the current one")


def make_keep_rewriter(arg: str = "", **_) -> KeepRewriter:
    return KeepRewriter()
