"""Answer each requirement of a shapes brief on a detection: pass/fail, evidence, and a region.

The region of a failure is where the fix belongs: the box of the wrong object, or the place a
missing or misplaced object should go. A misplaced object also yields a *removal* defect (its
current box), so an editor can paint it out and paint it in where it belongs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tools.contracts import Defect, Region, Requirement
from tools.shapes.brief import Brief, Group, group_id
from tools.shapes.detect import DetectedObject, Detection
from tools.shapes.placement import SIDES, box_region, cell_target, relation_move, removal_region, square_at
from tools.shapes.vocab import (
    CELLS,
    COUNT_WORDS,
    SIZE_RANGES,
    cell_box,
    relation_holds,
)



def _defect(kind: str, region: Region, description: str, gi: int, requirement_ids: tuple[str, ...]) -> Defect:
    return Defect(kind=kind, region=region, description=description, group=group_id(gi),
                  requirement_ids=list(requirement_ids))


@dataclass(frozen=True)
class RequirementResult:
    id: str
    passed: bool
    evidence: str
    region: Region | None = None


@dataclass
class CheckResult:
    results: list[RequirementResult]
    defects: list[Defect] = field(default_factory=list)
    detection: Detection | None = None
    # Every object found, with the group it was taken for (None: taken for none of them).
    assigned: list[tuple[str | None, DetectedObject]] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(r.passed for r in self.results) / max(1, len(self.results))

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)


def _matches(o: DetectedObject, g: Group) -> bool:
    return o.shape == g.shape and (g.colour is None or o.colour == g.colour)


def _fit(o: DetectedObject, g: Group) -> int:
    """How many of the group's optional attributes an object satisfies (to pick instances)."""
    return int(g.size is None or o.size == g.size) + int(g.position is None or o.cell == g.position)


class _Scene:
    """Detected objects assigned to the brief's groups."""

    def __init__(self, brief: Brief, det: Detection):
        self.brief, self.det = brief, det
        self.candidates: list[list[DetectedObject]] = []
        self.instances: list[list[DetectedObject]] = []
        for g in brief.groups:
            cands = sorted((o for o in det.objects if _matches(o, g)), key=lambda o: -_fit(o, g))
            self.candidates.append(cands)
            self.instances.append(cands[: g.count])
        used = {id(o) for inst in self.instances for o in inst}
        self.unassigned = [o for o in det.objects if id(o) not in used]

    def near_miss(self, gi: int) -> DetectedObject | None:
        """An unassigned object that is probably a wrong attempt at group gi."""
        g = self.brief.groups[gi]
        best, best_key = None, None
        for o in self.unassigned:
            shared = int(o.shape == g.shape) + int(g.colour is not None and o.colour == g.colour)
            if shared == 0 and not (g.position and o.cell == g.position):
                continue
            key = (shared, int(g.position is not None and o.cell == g.position), -_dist_to_target(self, gi, o))
            if best_key is None or key > best_key:
                best, best_key = o, key
        return best

    def target_center(self, gi: int) -> tuple[float, float]:
        """Where an object of group gi should stand, from its cell, its relations or free space."""
        g = self.brief.groups[gi]
        if g.position:
            x0, y0, x1, y1 = cell_box(g.position)
            return ((x0 + x1) / 2, (y0 + y1) / 2)
        side = _target_side(g)
        for other, rel_from_other in self._partners(gi):
            if not self.instances[other]:
                continue
            ox, oy = self.instances[other][0].center
            gap = side / 2 + self.instances[other][0].side / 2 + 0.12
            dx, dy = {"left of": (-gap, 0), "right of": (gap, 0), "above": (0, -gap),
                      "below": (0, gap)}[rel_from_other]
            return (min(max(ox + dx, side / 2), 1 - side / 2), min(max(oy + dy, side / 2), 1 - side / 2))
        return self.free_spot(side)

    def _partners(self, gi: int) -> list[tuple[int, str]]:
        """(other group, relation of gi to it) for every link touching gi."""
        inverse = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
        out = []
        if gi > 0 and self.brief.links[gi - 1]:
            out.append((gi - 1, inverse[self.brief.links[gi - 1]]))
        if gi < len(self.brief.links) and self.brief.links[gi]:
            out.append((gi + 1, self.brief.links[gi]))
        return out

    def free_spot(self, side: float) -> tuple[float, float]:
        """The cell centre farthest from every detected object."""
        best, best_d = (0.5, 0.5), -1.0
        for name in CELLS:
            x0, y0, x1, y1 = cell_box(name)
            c = ((x0 + x1) / 2, (y0 + y1) / 2)
            d = min((((c[0] - o.center[0]) ** 2 + (c[1] - o.center[1]) ** 2) ** 0.5
                     for o in self.det.objects), default=1.0)
            if d > best_d:
                best, best_d = c, d
        return best


def _dist_to_target(scene: _Scene, gi: int, o: DetectedObject) -> float:
    g = scene.brief.groups[gi]
    if not g.position:
        return 0.0
    x0, y0, x1, y1 = cell_box(g.position)
    return ((o.center[0] - (x0 + x1) / 2) ** 2 + (o.center[1] - (y0 + y1) / 2) ** 2) ** 0.5


def _target_side(g: Group) -> float:
    lo, hi = SIZE_RANGES[g.size or "large"]
    return (lo + hi) / 2


def _where(objs: list[DetectedObject]) -> str:
    return "; ".join(o.describe() for o in objs) or "nothing"


def check(brief: Brief, requirements: list[Requirement], det: Detection) -> CheckResult:
    """Check every requirement (as made by ``brief.requirements()``) against a detection."""
    scene = _Scene(brief, det)
    results: list[RequirementResult] = []
    defects: list[Defect] = []
    for req in requirements:
        spec = req.spec or {}
        kind = spec.get("check")
        if kind == "background":
            ok = det.background == spec["colour"]
            results.append(RequirementResult(req.id, ok, f"the background is {det.background}"))
            continue
        gi = spec["group"]
        g = brief.groups[gi]
        inst, cands = scene.instances[gi], scene.candidates[gi]
        if kind in ("object", "count"):
            results.append(_check_presence(scene, req, gi, g, cands, defects))
        elif kind == "size":
            results.append(_check_size(req, gi, g, inst, defects))
        elif kind == "position":
            results.append(_check_position(scene, req, gi, g, inst, defects))
        elif kind == "relation":
            results.append(_check_relation(scene, req, gi, spec, defects))
        else:
            raise ValueError(f"requirement {req.id} has no shapes-world check: {spec}")
    assigned = [(group_id(gi), o) for gi, inst in enumerate(scene.instances) for o in inst]
    assigned += [(None, o) for o in scene.unassigned]
    return CheckResult(results=results, defects=_merge(defects), detection=det, assigned=assigned)


def _check_presence(scene: _Scene, req: Requirement, gi: int, g: Group, cands: list[DetectedObject],
                    defects: list[Defect]) -> RequirementResult:
    want = g.count
    n = len(cands)
    ok = n >= 1 if req.spec["check"] == "object" else n == want
    if ok:
        return RequirementResult(req.id, True, f"found {_where(cands[:max(want, 1)])}")
    noun = g.noun() if g.count > 1 else f"{g.colour + ' ' if g.colour else ''}{g.shape}"
    if n > want:  # too many: the surplus that fits the brief worst is the one to remove
        extra = sorted(cands, key=lambda o: _fit(o, g))[0]
        region = removal_region(extra, [o for o in scene.det.objects if o is not extra])
        defects.append(_defect("remove", region, f"remove the extra {g.shape} ({extra.describe()})", gi,
                              (req.id,)))
        return RequirementResult(req.id, False, f"found {n} {noun}, not {COUNT_WORDS[want]}: {_where(cands)}",
                                 region)
    miss = scene.near_miss(gi)
    if miss is not None:
        region = removal_region(miss, [o for o in scene.det.objects if o is not miss])
        region = region if region.area >= square_at(*miss.center, _target_side(g)).area else \
            square_at(*miss.center, _target_side(g))
        defects.append(_defect("replace", region, f"turn {miss.describe()} into {g.phrase()}", gi, (req.id,)))
        evidence = f"no {noun} ({n} of {want} found); closest is {miss.describe()}"
    else:
        region = cell_target(g.position, _target_side(g), list(scene.det.objects)) if g.position else \
            square_at(*scene.target_center(gi), _target_side(g))
        defects.append(_defect("add", region, f"add {g.phrase()}", gi, (req.id,)))
        evidence = f"no {noun} ({n} of {want} found); the image shows {_where(list(scene.det.objects))}"
    return RequirementResult(req.id, False, evidence, region)


def _check_size(req: Requirement, gi: int, g: Group, inst: list[DetectedObject],
                defects: list[Defect]) -> RequirementResult:
    if not inst:
        return RequirementResult(req.id, False, f"no {g.noun()} to measure")
    wrong = [o for o in inst if o.size != g.size]
    if not wrong:
        return RequirementResult(req.id, True, f"{_where(inst)}: {g.size}")
    o = wrong[0]
    region = square_at(*o.center, max(_target_side(g), o.side))
    defects.append(_defect("replace", region, f"redraw {o.describe()} as {g.size}", gi, (req.id,)))
    return RequirementResult(req.id, False, f"{o.describe()} is {o.size}, not {g.size} "
                                            f"(side {o.side:.2f} of the image)", region)


def _check_position(scene: _Scene, req: Requirement, gi: int, g: Group, inst: list[DetectedObject],
                    defects: list[Defect]) -> RequirementResult:
    if not inst:
        return RequirementResult(req.id, False, f"no {g.noun()} to place",
                                 box_region(cell_box(g.position), 0.0))
    wrong = [o for o in inst if o.cell != g.position]
    if not wrong:
        return RequirementResult(req.id, True, f"{_where(inst)}")
    o = wrong[0]
    others = [x for x in scene.det.objects if x is not o]
    target = cell_target(g.position, _target_side(g) if g.size else o.side, others)  # redrawn at the asked size
    defects.append(_defect("remove", removal_region(o, others), f"remove {o.describe()} from {o.cell}", gi,
                           (req.id,)))
    defects.append(_defect("add", target, f"add {g.phrase()}", gi, (req.id,)))
    return RequirementResult(req.id, False, f"{o.describe()}, not at {g.position}", target)


def _check_relation(scene: _Scene, req: Requirement, gi: int, spec: dict,
                    defects: list[Defect]) -> RequirementResult:
    rel, other = spec["relation"], spec["other"]
    a_inst, b_inst = scene.instances[gi], scene.instances[other]
    a_g, b_g = scene.brief.groups[gi], scene.brief.groups[other]
    if not a_inst or not b_inst:
        missing = a_g if not a_inst else b_g
        return RequirementResult(req.id, False, f"no {missing.noun()} to relate")
    bad = [(a, b) for a in a_inst for b in b_inst if not relation_holds(rel, a.center, b.center)]
    if not bad:
        return RequirementResult(req.id, True, f"{_where(a_inst)} is {rel} {_where(b_inst)}")
    a, b = bad[0]
    move = relation_move(list(scene.det.objects), rel,
                         (a, a_g, gi, max(a.side, _target_side(a_g)) if a_g.size else None),
                         (b, b_g, other, max(b.side, _target_side(b_g)) if b_g.size else None))
    if move is None:  # nowhere free: the old way, the subject next to the object
        gap = a.side / 2 + b.side / 2 + 0.1
        dx, dy = SIDES[rel]
        move = (a, a_g, gi, square_at(b.center[0] + dx * gap, b.center[1] + dy * gap,
                                       max(a.side, _target_side(a_g))), rel, b_g)
    moved, g_moved, g_index, target, how, anchor = move
    removal = removal_region(moved, [o for o in scene.det.objects if o is not moved])
    defects.append(_defect("remove", removal, f"remove {moved.describe()}", g_index, (req.id,)))
    defects.append(_defect("add", target, f"add {g_moved.phrase()} {how} the {anchor.noun()}", g_index,
                          (req.id,)))
    return RequirementResult(req.id, False, f"{a.describe()} is not {rel} {b.describe()}", target)


def _merge(defects: list[Defect]) -> list[Defect]:
    """One defect per (kind, place): several failed requirements often point at the same object."""
    out: list[Defect] = []
    for d in defects:
        for i, e in enumerate(out):
            if e.kind == d.kind and e.region.iou(d.region) > 0.5:
                out[i] = e.model_copy(update={"requirement_ids": list(dict.fromkeys(e.requirement_ids
                                                                                    + d.requirement_ids))})
                break
        else:
            out.append(d)
    return out
