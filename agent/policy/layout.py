"""Where every object should stand: a layout of the whole scene that satisfies every position and
relation requirement at once and fits the objects' sizes, reached with the fewest moves.

Repairing one relation at a time breaks others (moving a pinned object breaks its position; moving
the middle object of a chain breaks its other relation), so the agent plans over the whole scene:
the objects the critic located (``Critique.objects``) are kept where they are unless moving them is
needed, and among the layouts with the fewest moved objects the most robust is preferred (the
farthest from failing a margin, the clearest of other objects and of the image's edge, where the
model draws worst). A brief whose positions and relations no layout satisfies is said to be so.

The geometry comes from the requirements' machine-checkable ``spec`` (a position's region, a
relation and its margin, an object's side), so this works for any planner that states them.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

Box = tuple[float, float, float, float]

GAP = 0.03  # between two objects' boxes
EDGE = 0.02  # between an object and the image's edge
SAFETY = 0.05  # beyond a relation's margin, so that a redrawn object off by a little still passes
INSET = 0.02  # inside a position's region
STEP = 0.05  # candidate centres
EDGE_COMFORT = 0.12  # closer than this to the edge, a target costs robustness


@dataclass(frozen=True)
class Thing:
    """One object of the scene: its group (Requirement.group), which of the group's instances it is,
    where it is now (None: missing), the side it should have, and the region its centre must lie in."""

    group: str
    index: int
    box: Box | None
    side: float
    region: Box | None = None
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.group}#{self.index}"

    @property
    def center(self) -> tuple[float, float] | None:
        return None if self.box is None else ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass(frozen=True)
class Relation:
    subject: str  # group ids
    other: str
    relation: str  # left of, right of, above, below
    margin: float = 0.10


@dataclass(frozen=True)
class Move:
    thing: Thing
    to: Box  # the square the object should occupy

    @property
    def center(self) -> tuple[float, float]:
        return ((self.to[0] + self.to[2]) / 2, (self.to[1] + self.to[3]) / 2)


@dataclass
class Layout:
    """A target for the scene: the moves that reach it (fewest first), and how robust it is."""

    moves: list[Move]
    robustness: float
    centers: dict[str, tuple[float, float]] = field(default_factory=dict)  # every thing's target centre

    @property
    def signature(self) -> tuple:
        return tuple((m.thing.key, round(m.center[0], 2), round(m.center[1], 2)) for m in self.moves)


def holds(relation: str, a: tuple[float, float], b: tuple[float, float], margin: float) -> bool:
    (ax, ay), (bx, by) = a, b
    return {"left of": bx - ax, "right of": ax - bx, "above": by - ay, "below": ay - by}[relation] > margin


def _slack(relation: str, a, b, margin: float) -> float:
    (ax, ay), (bx, by) = a, b
    return {"left of": bx - ax, "right of": ax - bx, "above": by - ay, "below": ay - by}[relation] - margin


def square(center: tuple[float, float], side: float) -> Box:
    h = side / 2
    return (center[0] - h, center[1] - h, center[0] + h, center[1] + h)


def _apart(c1, s1, c2, s2) -> float:
    """How far two squares are from touching (negative: they overlap), beyond GAP."""
    reach = (s1 + s2) / 2 + GAP
    return max(abs(c1[0] - c2[0]), abs(c1[1] - c2[1])) - reach


def _in_region(c, region: Box | None) -> bool:
    if region is None:
        return True
    return region[0] + INSET <= c[0] <= region[2] - INSET and region[1] + INSET <= c[1] <= region[3] - INSET


def _fits(c, side: float) -> bool:
    h = side / 2 + EDGE
    return h <= c[0] <= 1 - h and h <= c[1] <= 1 - h


class _Scene:
    def __init__(self, things: list[Thing], relations: list[Relation], safety: float = SAFETY):
        self.things, self.relations, self.safety = things, relations, safety
        self.by_group: dict[str, list[Thing]] = {}
        for t in things:
            self.by_group.setdefault(t.group, []).append(t)

    def pair_ok(self, t: Thing, c, u: Thing, d) -> bool:
        """Two things at centres c and d: apart, and every relation between their groups held."""
        if _apart(c, t.side, d, u.side) < 0:
            return False
        for r in self.relations:
            if (r.subject, r.other) == (t.group, u.group) and not holds(r.relation, c, d, r.margin + self.safety):
                return False
            if (r.subject, r.other) == (u.group, t.group) and not holds(r.relation, d, c, r.margin + self.safety):
                return False
        return True

    def robustness(self, centers: dict[str, tuple[float, float]]) -> float:
        """How far the placed things (those in ``centers``) are from failing: the smallest slack of
        a relation beyond its margin, gap between two objects, or distance to the image's edge when
        nearer than EDGE_COMFORT."""
        worst = 1.0
        placed = [t for t in self.things if t.key in centers]
        for r in self.relations:
            for a in self.by_group.get(r.subject, []):
                for b in self.by_group.get(r.other, []):
                    if a.key in centers and b.key in centers:
                        worst = min(worst, _slack(r.relation, centers[a.key], centers[b.key], r.margin))
        for a, b in itertools.combinations(placed, 2):
            worst = min(worst, _apart(centers[a.key], a.side, centers[b.key], b.side) + GAP)
        for t in placed:
            c = centers[t.key]
            edge = min(c[0], c[1], 1 - c[0], 1 - c[1]) - t.side / 2
            if edge < EDGE_COMFORT:
                worst = min(worst, edge)
        return worst


def _candidates(t: Thing, step: float = STEP) -> list[tuple[float, float]]:
    n = int(round(1 / step))
    grid = [round(i * step, 4) for i in range(1, n)]
    return [(x, y) for x in grid for y in grid if _fits((x, y), t.side) and _in_region((x, y), t.region)]


def _holds_where_it_is(scene: _Scene, t: Thing) -> bool:
    return t.box is not None and _fits(t.center, 0.0) and _in_region(t.center, t.region)


def plan_layouts(things: list[Thing], relations: list[Relation], *, limit: int = 4,
                 exclude: Iterable[tuple] = (), safety: float = SAFETY, breadth: int = 16,
                 step: float = STEP) -> list[Layout]:
    """Up to ``limit`` layouts that satisfy every position and relation (each with ``safety`` beyond
    its margin), with the fewest moves, the most robust first; layouts whose signature is in
    ``exclude`` (moves tried before) are left out. [] when none was found (even moving everything)."""
    scene = _Scene(things, relations, safety)
    skip = set(exclude)
    for k in range(len(things) + 1):
        found: list[Layout] = []
        for moved in itertools.combinations(things, k):
            stay = [t for t in things if t not in moved]
            if any(not _holds_where_it_is(scene, t) for t in stay):
                continue  # a missing object, or one out of its region, must move
            if any(not scene.pair_ok(a, a.center, b, b.center) for a, b in itertools.combinations(stay, 2)):
                continue
            found.extend(_assignments(scene, list(moved), stay, breadth, step))
        found = [f for f in found if f.signature not in skip]
        if found:
            return _distinct(sorted(found, key=lambda f: -f.robustness), limit)
    return []


def _assignments(scene: _Scene, moved: list[Thing], stay: list[Thing], breadth: int = 16,
                 step: float = STEP) -> list[Layout]:
    """Layouts that move ``moved`` and keep ``stay``: a depth-first search over candidate centres,
    the most constrained object first; at each level only candidates compatible with everything
    placed so far, the ``breadth`` most robust of them."""
    fixed = {t.key: t.center for t in stay}
    order = sorted(moved, key=lambda t: (t.region is None, -t.side))
    pools = {t.key: _candidates(t, step) for t in order}
    out: list[Layout] = []

    def place(i: int, centers: dict) -> None:
        if i == len(order):
            out.append(Layout(moves=[Move(t, square(centers[t.key], t.side)) for t in moved],
                              robustness=round(scene.robustness(centers), 4), centers=dict(centers)))
            return
        t = order[i]
        placed = [u for u in scene.things if u.key in centers]
        ok = [c for c in pools[t.key] if all(scene.pair_ok(t, c, u, centers[u.key]) for u in placed)]
        ok.sort(key=lambda c: -min(scene.robustness({**centers, t.key: c}), _room(scene, t, c, centers, pools)))
        for c in _spread(ok, breadth, apart=0.12 if breadth <= 16 else 0.06):
            place(i + 1, {**centers, t.key: c})

    place(0, fixed)
    return out


def _room(scene: _Scene, t: Thing, c, centers: dict, pools: dict) -> float:
    """The most slack each relation between ``t`` at ``c`` and a thing not placed yet could still
    get (from where that thing may go): a place that leaves a partner no room ranks last."""
    worst = 1.0
    for r in scene.relations:
        for u in scene.things:
            if u.key in centers or u.key == t.key or not pools.get(u.key):
                continue
            xs, ys = [p[0] for p in pools[u.key]], [p[1] for p in pools[u.key]]
            if (r.subject, r.other) == (t.group, u.group):
                best = {"left of": max(xs) - c[0], "right of": c[0] - min(xs), "above": max(ys) - c[1],
                        "below": c[1] - min(ys)}[r.relation]
            elif (r.subject, r.other) == (u.group, t.group):
                best = {"left of": c[0] - min(xs), "right of": max(xs) - c[0], "above": c[1] - min(ys),
                        "below": max(ys) - c[1]}[r.relation]
            else:
                continue
            worst = min(worst, best - r.margin)
    return worst


def _spread(ranked: list[tuple[float, float]], n: int, apart: float = 0.12) -> list[tuple[float, float]]:
    """Up to ``n`` of the ranked centres, best first, each at least ``apart`` from those taken: the
    search then looks all over the image, not at a cluster of equally good neighbours (a place that
    leaves no room for an object still to be placed would otherwise end every branch)."""
    taken: list[tuple[float, float]] = []
    for c in ranked:
        if all(max(abs(c[0] - d[0]), abs(c[1] - d[1])) >= apart for d in taken):
            taken.append(c)
            if len(taken) == n:
                break
    return taken


def _distinct(layouts: list[Layout], limit: int) -> list[Layout]:
    """The best layouts that differ: another object moved, or a target at least a cell's width away."""
    out: list[Layout] = []
    for f in layouts:
        if all(not _near(f, g) for g in out):
            out.append(f)
        if len(out) == limit:
            break
    return out


def _near(a: Layout, b: Layout) -> bool:
    if [m.thing.key for m in a.moves] != [m.thing.key for m in b.moves]:
        return False
    return all(abs(x.center[0] - y.center[0]) < 0.2 and abs(x.center[1] - y.center[1]) < 0.2
               for x, y in zip(a.moves, b.moves))


# -- from a checklist and a critique ----------------------------------------------------------------
def scene_of(checklist: list[dict[str, Any]], objects: list[dict[str, Any]] | None) -> tuple[list[Thing], list[Relation]] | None:
    """The things and relations a checklist states (None when its requirements carry no geometry),
    placed where the critique's ``objects`` found them (None: plan a scene from nothing)."""
    groups: dict[str, dict[str, Any]] = {}
    relations: list[Relation] = []
    for r in checklist:
        spec, group = r.get("spec") or {}, r.get("group")
        if spec.get("check") in ("object", "count") and "side" in spec:
            groups[group] = {**groups.get(group, {}), "count": int(spec.get("count", 1)), "side": spec["side"],
                             "label": spec.get("label", "")}
        elif spec.get("check") == "position" and "region" in spec:
            groups.setdefault(group, {})["region"] = tuple(spec["region"])
        elif spec.get("check") == "relation" and "other_group" in spec:  # the other's group id
            relations.append(Relation(group, spec["other_group"], spec["relation"], float(spec.get("margin", 0.1))))
    if not groups or any("side" not in g for g in groups.values()):
        return None
    found: dict[str, list[Box]] = {}
    others: list[dict[str, Any]] = []  # found but none of the brief's objects: in the way all the same
    for o in objects or []:
        reg = o["region"]
        box = (reg["x0"], reg["y0"], reg["x1"], reg["y1"])
        if o.get("group") in groups:
            found.setdefault(o["group"], []).append(box)
        else:
            others.append({"box": box, "label": o.get("label", "")})
    things = []
    for group, g in groups.items():
        boxes = found.get(group, [])
        lo, hi = g["side"]
        for i in range(g["count"]):
            box = boxes[i] if i < len(boxes) else None
            # An object still to be drawn is planned at the small end of its range: it fits more layouts.
            side = lo + (hi - lo) / 4 if box is None else min(max(max(box[2] - box[0], box[3] - box[1]), lo), hi)
            things.append(Thing(group, i, box, side, g.get("region"), g["label"]))
    for i, o in enumerate(others):
        b = o["box"]
        things.append(Thing(f"other{i}", 0, b, max(b[2] - b[0], b[3] - b[1]), None, o["label"]))
    return things, relations
