"""A critique completed by a localiser: where the objects the checklist names are, and where each
failure's fix belongs when the critic gave no place.

- ``Critique.objects``: every box found for every object a requirement names, passing or not
  (``source="localiser"``), so repaints can spare what is right.
- Regions of failing requirements the critic left without one, marked ``source="localiser"``:
  for a shapes-grammar brief (requirements with a machine-readable ``spec``), the shapes world's own
  geometry on the boxes (agent/critics/shapes_regions.py): the object to repaint or remove, or where
  a missing or misplaced object belongs relative to the objects found; for a free-form brief, the
  box of the object the requirement is about, and no region for an object that was not found (the
  policy then uses the tools that need none).

``--localiser`` wraps any critic (:class:`LocalisedCritic`); an ``hf:`` critic whose model writes
``<loc>`` tokens localises with itself (agent/critics/hf_critic.py), unless a localiser is named.
"""
from __future__ import annotations

from typing import Any

from PIL import Image

from agent.contracts import Critique, Defect, DriftReport, Located, Ranking, Requirement
from agent.critics.base import Critic, Plan, critic_error
from agent.critics.localiser import Localiser, make_localiser
from agent.critics.shapes_regions import label_of, shapes_fixes
from agent.vlm.errors import ModelError
from agent.vlm.regions import keep_distinct
from tools.contracts import Region
from tools.errors import BriefError
from tools.shapes.brief import Brief, group_id
from tools.shapes.parse import parse_brief

MOST_PER_LABEL = 4  # boxes kept for one object of the brief (a count of three, and one extra)


def shapes_brief(brief: str, checklist: list[Requirement]) -> Brief | None:
    """The parsed brief when it is in the shapes grammar and the checklist is the grammar's own."""
    if not checklist or not all(r.spec for r in checklist):
        return None
    try:
        return parse_brief(brief)
    except BriefError:
        return None


def localise(crit: Critique, image: Image.Image, brief: str, checklist: list[Requirement],
             localiser: Localiser) -> Critique:
    """``crit`` with the localiser's objects, and regions for its failures where it gave none."""
    shapes = shapes_brief(brief, checklist)
    if shapes is not None:
        targets = {label_of(shapes, i): (group_id(i), i) for i in range(len(shapes.groups))}
    else:  # a free-form brief: the object each requirement is about is its group
        targets = {r.group: (r.group, None) for r in checklist if r.group}
    if not targets:
        return crit
    try:
        found, usage = localiser.locate(image, list(targets))
    except ModelError as exc:
        raise critic_error(exc) from None
    found = {label: keep_distinct(found.get(label, []), MOST_PER_LABEL) for label in targets}
    objects = [Located(label=label, region=f.region, group=targets[label][0], confidence=round(min(1.0, f.score), 4),
                       source="localiser") for label in targets for f in found[label]]
    failed = {v.id for v in crit.verdicts if not v.passed and v.region is None}
    if shapes is not None:
        regions, defects = shapes_fixes(shapes, checklist, {targets[k][1]: v for k, v in found.items()}, failed)
    else:
        regions, defects = _free_form_fixes(checklist, found, failed)
    def mark(region: Region) -> Region:
        return region.model_copy(update={"source": "localiser"})

    verdicts = [v.model_copy(update={"region": mark(regions[v.id])}) if v.id in regions else v
                for v in crit.verdicts]
    covered = {i for d in crit.defects if d.region is not None for i in d.requirement_ids}
    extra = [d.model_copy(update={"region": mark(d.region)}) for d in defects
             if not set(d.requirement_ids) <= covered]
    return crit.model_copy(update={"verdicts": verdicts, "defects": crit.defects + extra,
                                   "objects": crit.objects + objects, "usage": crit.usage + usage})


def _free_form_fixes(checklist: list[Requirement], found: dict[str, list], failed: set[str]):
    regions: dict[str, Region] = {}
    defects: list[Defect] = []
    for r in checklist:
        boxes = found.get(r.group or "", [])
        if r.id in failed and boxes:
            regions[r.id] = boxes[0].region
            defects.append(Defect(kind="replace", region=boxes[0].region, requirement_ids=[r.id], group=r.group,
                                  description=f"repaint the {r.group} so that: {r.text}"))
    return regions, defects


class LocalisedCritic(Critic):
    """Any critic, its critiques completed by a localiser; everything else is the critic's own."""

    def __init__(self, inner: Critic, localiser: Localiser, spec: str):
        self.inner, self.localiser, self.spec = inner, localiser, spec
        self.name, self.exact, self.order_invariant = inner.name, inner.exact, inner.order_invariant

    def plan(self, brief: str) -> Plan:
        return self.inner.plan(brief)

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        return localise(self.inner.critique(image, brief, checklist), image, brief, checklist, self.localiser)

    def rank(self, images, brief, checklist, critiques=None) -> Ranking:
        return self.inner.rank(images, brief, checklist, critiques)

    def judge_pair(self, first, second, brief, checklist) -> Ranking:
        return self.inner.judge_pair(first, second, brief, checklist)

    def compare(self, a, b, brief, checklist) -> Ranking:
        return self.inner.compare(a, b, brief, checklist)

    def drift(self, before, after, brief, checklist, held, after_critique=None) -> DriftReport:
        return self.inner.drift(before, after, brief, checklist, held, after_critique)

    def feedback_requirements(self, text, brief, checklist) -> list[Requirement]:
        return self.inner.feedback_requirements(text, brief, checklist)

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "localiser": self.spec}


def with_localiser(critic: Critic, spec: str) -> Critic:
    """``critic`` with the localiser ``spec`` names; it takes over from a critic's own (an hf: critic's
    loc tokens)."""
    try:
        localiser = make_localiser(spec)
    except ModelError as exc:
        raise critic_error(exc) from None
    if getattr(critic, "localiser", None) is not None:
        critic.localiser = None
    return LocalisedCritic(critic, localiser, spec)
