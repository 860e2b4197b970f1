"""Where a fix belongs in a shapes-grammar brief, from a localiser's boxes instead of the exact detector.

The shapes world already knows where a missing object goes (its cell, or beside the object it is
related to, clear of the others), which part of a misplaced object to paint out and where to paint
it in (tools/shapes/check.py and placement.py). That geometry is reused here on the localised boxes:
the boxes become a detection-like scene (one object per box, with the shape and colour of the group
its label came from) and the checker's regions are read for the requirements the critic failed. The
exact detector (tools/shapes/detect.py) is never run: a run driven by a learned critic must see the
image only through that critic and its localiser.
"""
from __future__ import annotations

from agent.vlm.regions import Found
from tools.contracts import Defect, Region, Requirement
from tools.shapes.brief import Brief, group_id
from tools.shapes.check import check
from tools.shapes.detect import DetectedObject, Detection
from tools.shapes.placement import box_region
from tools.shapes.vocab import SIZE_THRESHOLD


def label_of(brief: Brief, index: int) -> str:
    """What a localiser is asked to find for group ``index``: one of its objects ("red circle")."""
    return brief.groups[index].model_copy(update={"count": 1}).noun()


def scene_of(brief: Brief, found: dict[int, list[Found]]) -> Detection:
    """The boxes as the checker's scene: each box an object of its group's shape and colour."""
    objects = []
    for index, boxes in found.items():
        group = brief.groups[index]
        for f in boxes:
            x0, y0, x1, y1 = f.region.as_tuple()
            side = max(x1 - x0, y1 - y0)
            objects.append(DetectedObject(colour=group.colour or "", shape=group.shape,
                                          size="large" if side > SIZE_THRESHOLD else "small",
                                          box=(x0, y0, x1, y1), area=(x1 - x0) * (y1 - y0), shape_score=f.score))
    # The background is what the brief asks for: the localiser does not judge it, the critic does.
    return Detection(background=brief.background or "white", objects=tuple(objects))


def shapes_fixes(brief: Brief, checklist: list[Requirement], found: dict[int, list[Found]],
                 failed: set[str]) -> tuple[dict[str, Region], list[Defect]]:
    """(region per failed requirement, defects) from the checker's geometry on the localised scene."""
    result = check(brief, [r for r in checklist if r.spec], scene_of(brief, found))
    regions = {r.id: r.region for r in result.results if r.id in failed and not r.passed and r.region}
    defects = []
    for d in result.defects:
        ids = [i for i in d.requirement_ids if i in failed]
        if ids and d.region is not None:
            defects.append(d.model_copy(update={"requirement_ids": ids}))
    by_id = {r.id: r for r in checklist}
    for rid in sorted(failed - set(regions)):
        spec = by_id[rid].spec or {}
        boxes = found.get(spec["group"], []) if "group" in spec else []
        if boxes:
            # The critic fails what the boxes would pass (its colour, its shape): repaint the object.
            region = box_region(boxes[0].region.as_tuple())
            regions[rid] = region
            defects.append(Defect(kind="replace", region=region, requirement_ids=[rid], group=group_id(spec["group"]),
                                  description=f"redraw the {label_of(brief, spec['group'])}"))
    return regions, defects
