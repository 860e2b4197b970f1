"""VQAScore verdicts (Lin et al. 2024, linzhiqiu/t2v_metrics): a requirement holds when the model's
probability of answering "Yes" to ``Does this figure show "{text}"?`` reaches a threshold.

The question is the versioned template ``prompts/vqascore.v1.md``. Whoever reads the probability (a
local model's softmax, a server's logprobs), the verdict is made here: passed when P(yes) >=
threshold, its confidence the probability of the verdict given (P(yes) for a pass, 1 - P(yes) for a
failure), the image's score the mean P(yes). Scores are probabilities, so ranking and comparing by
them has no order effect.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.contracts import Critique, Requirement, Usage, Verdict
from agent.critics.card import not_judged
from agent.policy.belief import VQASCORE_TEMPLATE
from agent.vlm.templates import load_template

TEMPLATE = (VQASCORE_TEMPLATE, 1)
VQA_OPTIONS = ("mode", "threshold")


class VQASettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["vqa", "judge"] = "vqa"
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="P(yes) at or above which a requirement passes")


def question(text: str) -> str:
    return load_template(*TEMPLATE).fill("user", text=text.strip())


def template_id() -> str:
    return load_template(*TEMPLATE).id


def vqa_critique(critic: str, checklist: list[Requirement], probs: list[float], threshold: float,
                 usage: Usage | None, blind: dict[str, str] | None = None) -> Critique:
    """The critique a list of P(yes), one per requirement in checklist order, stands for. ``blind``:
    requirement kinds the critic cannot tell apart, with why (agent/critics/card.py): their verdicts
    are not judged and their probabilities stay out of the score."""
    if len(probs) != len(checklist):
        raise ValueError(f"{len(probs)} probabilities for {len(checklist)} requirements")
    blind = blind or {}
    verdicts, counted = [], []
    for req, p in zip(checklist, probs):
        evidence = f'P(yes) = {p:.3f} that the image shows "{req.text}"'
        if req.kind in blind:
            verdicts.append(not_judged(req, blind[req.kind], evidence))
            continue
        passed = p >= threshold
        counted.append(p)
        verdicts.append(Verdict(id=req.id, passed=passed, confidence=round(p if passed else 1.0 - p, 6),
                                evidence=evidence))
    score = sum(counted) / len(counted) if counted else 0.5
    failed = [v.id for v in verdicts if not v.passed]
    summary = (f"VQAScore {score:.3f}; " + (f"below {threshold:g}: {', '.join(failed)}" if failed
                                              else f"every requirement at or above {threshold:g}"))
    return Critique(verdicts=verdicts, score=min(1.0, max(0.0, score)), summary=summary, critic=critic,
                    prompt_version=template_id(), usage=usage or Usage())
