"""The shapes world's exact critic: the detector and checker answer every requirement exactly."""
from __future__ import annotations

import time

from PIL import Image

from agent.contracts import Critique, Defect, Located, Region, Requirement, Usage, Verdict
from agent.critics.base import Critic, Plan
from tools.shapes.brief import Brief, group_index
from tools.shapes.check import check
from tools.shapes.detect import detect
from tools.shapes.parse import parse_brief
from tools.shapes.vocab import cell_of


class SceneCritic(Critic):
    """Exact ground truth for shapes-world briefs; free text it cannot check is refused at plan time."""

    name = "scene"
    exact = True

    def __init__(self) -> None:
        self._briefs: dict[str, Brief] = {}

    def _brief(self, text: str) -> Brief:
        if text not in self._briefs:
            self._briefs[text] = parse_brief(text)
        return self._briefs[text]

    def plan(self, brief: str) -> Plan:
        b = self._brief(brief)
        return Plan(checklist=b.requirements(), prompt=b.text(),
                    notes="checklist from the shapes grammar; prompt is the canonical brief")

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        t0 = time.perf_counter()
        b = self._brief(brief)
        det = detect(image)
        checkable = [r for r in checklist if r.spec]
        result = check(b, checkable, det)
        verdicts = [Verdict(id=r.id, passed=r.passed, confidence=1.0, evidence=r.evidence, region=r.region)
                    for r in result.results]
        background = b.background or det.background
        defects = []
        for d in result.defects:
            group = b.groups[group_index(d.group)] if d.group is not None else None
            if d.kind == "remove" or group is None:
                prompt = f"{background} background"
            else:
                # Name the cell the region sits in, so the model knows where the object belongs.
                cell = cell_of(*d.region.center)
                phrase = group.model_copy(update={"position": cell, "count": 1}).phrase()
                prompt = f"{phrase}, {background} background"
            defects.append(d.model_copy(update={"prompt": prompt}))
        for r in result.results:
            if not r.passed and r.region is None and r.id == "background":
                defects.append(Defect(kind="global", description=f"the background should be {b.background}",
                                      requirement_ids=[r.id]))
        objects = [Located(label=(b.groups[group_index(g)].label() if g else f"{o.colour} {o.shape}"),
                           region=Region(x0=o.box[0], y0=o.box[1], x1=o.box[2], y1=o.box[3]), group=g)
                   for g, o in result.assigned]
        return Critique(verdicts=verdicts, score=result.score, defects=defects, critic=self.name,
                        summary=det.describe(), objects=objects,
                        usage=Usage(calls=1, seconds=time.perf_counter() - t0))

    def feedback_requirements(self, text: str, brief: str, checklist: list[Requirement]) -> list[Requirement]:
        """The exact critic checks only what the grammar states; feedback becomes a rewrite hint."""
        return []
