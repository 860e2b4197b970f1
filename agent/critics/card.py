"""A critic's card: how often it is wrong, per kind of requirement, measured on held-out images.

Real judges have blind spots rather than coin-flip mistakes: VQAScore models are known to count
badly and to confuse sides. A kind a critic cannot tell apart — its "yes" and its "no" say nothing
about the image (informedness, 1 − false-yes rate − false-no rate, near zero) — is not evidence: a
run that treats such a "no" as a failure repaints what may already be right and never accepts.
So a critic with a card judges only the kinds it can tell apart; the others it marks *not judged*
(``Verdict.judged``), and they pass for want of a judge, saying so.

The card lives beside the model's weights as ``critic_card.json`` (``python -m evals.shapes_vlm
--card`` writes the shapes critic's); a person may also name blind kinds with ``blind=count,...``.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agent.contracts import Critique, Verdict
from tools.contracts import Requirement, RequirementKind
from tools.errors import InputError

CARD_FILE = "critic_card.json"
# Below this informedness a kind's verdicts are not evidence. A coin that errs on 20% of verdicts
# has 0.6; the shapes critic's counts measured 0.0.
MIN_INFORMEDNESS = 0.1
MIN_QUESTIONS = 30  # fewer measured questions than this say nothing about a kind


class KindFigures(BaseModel):
    n: int = Field(ge=0)
    false_yes: float | None = Field(None, ge=0.0, le=1.0)  # of the requirements that do not hold
    false_no: float | None = Field(None, ge=0.0, le=1.0)  # of those that hold

    @property
    def informedness(self) -> float | None:
        if self.false_yes is None or self.false_no is None or self.n < MIN_QUESTIONS:
            return None
        return 1.0 - self.false_yes - self.false_no


class CriticCard(BaseModel):
    measured_by: str  # the command that measured it
    images: int = Field(ge=0)
    kinds: dict[RequirementKind, KindFigures]

    def blind_kinds(self) -> set[str]:
        return {k for k, f in self.kinds.items() if f.informedness is not None and f.informedness < MIN_INFORMEDNESS}

    def why(self, kind: str) -> str:
        f = self.kinds[kind]
        return (f"measured on held-out images: {f.false_yes:.0%} false yes, {f.false_no:.0%} false no "
                f"over {f.n} questions")


def not_judged(req: Requirement, why: str, evidence: str = "") -> Verdict:
    """The verdict of a requirement of a kind the critic cannot tell apart; ``evidence``: what it said."""
    said = f"; it said {evidence}" if evidence else ""
    return Verdict(id=req.id, passed=True, confidence=0.5, judged=False,
                   evidence=f"not judged: this critic cannot tell {req.kind} requirements apart ({why}){said}")


def unjudge(crit: Critique, checklist: list[Requirement], blind: dict[str, str]) -> Critique:
    """``crit`` with the verdicts of blind kinds replaced by :func:`not_judged` ones (a judge's critique:
    VQAScore leaves them out of its score as it builds the critique, agent/critics/vqascore.py)."""
    reqs = {r.id: r for r in checklist}
    kept = [not_judged(reqs[v.id], blind[reqs[v.id].kind], v.evidence)
            if v.id in reqs and reqs[v.id].kind in blind else v for v in crit.verdicts]
    return crit.model_copy(update={"verdicts": kept})


def load_card(folder: str | Path) -> CriticCard | None:
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        return None
    try:
        return CriticCard.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        what = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else str(exc)
        raise InputError(f"the critic card {path} is broken ({what}); write it again with "
                         f"`python -m evals.shapes_vlm --card`, or remove it to judge every kind") from None


def write_card(folder: str | Path, card: CriticCard) -> Path:
    path = Path(folder) / CARD_FILE
    path.write_text(card.model_dump_json(indent=2) + "\n")
    return path
