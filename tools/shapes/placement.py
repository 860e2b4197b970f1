"""Where a fix belongs in a shapes scene: the regions the checker hands out with its defects.

A region is what an inpaint repaints, so it must cover what is to change and nothing else: a
removal region is the object's box with a margin for its blurred edge, but never reaching over
another object (the repaint would erase it too), and an object is placed where it fits, clear of
the objects already there.
"""
from __future__ import annotations

from tools.contracts import Region
from tools.shapes.detect import DetectedObject
from tools.shapes.vocab import cell_box, relation_holds

REGION_PAD = 0.05  # around an object's box, so an inpaint covers its blurred edges
SIDES = {"left of": (-1, 0), "right of": (1, 0), "above": (0, -1), "below": (0, 1)}
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
Box = tuple[float, float, float, float]


def box_region(box: Box, pad: float = REGION_PAD) -> Region:
    x0, y0, x1, y1 = box
    return Region(x0=max(0.0, x0), y0=max(0.0, y0), x1=min(1.0, x1), y1=min(1.0, y1)).padded(pad)


def square_at(cx: float, cy: float, side: float) -> Region:
    h = side / 2
    cx, cy = min(max(cx, h), 1 - h), min(max(cy, h), 1 - h)
    return box_region((cx - h, cy - h, cx + h, cy + h))


def overlaps(region: Region, box: Box) -> bool:
    x0, y0, x1, y1 = box
    return region.x0 < x1 and x0 < region.x1 and region.y0 < y1 and y0 < region.y1


def removal_region(obj: DetectedObject, others: list[DetectedObject]) -> Region:
    """The object's padded box, each side pulled back where the margin would reach over another object."""
    ox0, oy0, ox1, oy1 = obj.box
    x0, y0, x1, y1 = ox0 - REGION_PAD, oy0 - REGION_PAD, ox1 + REGION_PAD, oy1 + REGION_PAD
    for o in others:
        bx0, by0, bx1, by1 = o.box
        if not (x0 < bx1 and bx0 < x1 and y0 < by1 and by0 < y1):
            continue
        # Pull back the side facing the neighbour, no further than the object's own edge.
        if bx1 <= ox0:
            x0 = max(x0, min(bx1, ox0))
        elif bx0 >= ox1:
            x1 = min(x1, max(bx0, ox1))
        elif by1 <= oy0:
            y0 = max(y0, min(by1, oy0))
        elif by0 >= oy1:
            y1 = min(y1, max(by0, oy1))
    return Region(x0=max(0.0, x0), y0=max(0.0, y0), x1=min(1.0, x1), y1=min(1.0, y1))


def cell_target(cell: str, side: float, others: list[DetectedObject]) -> Region:
    """A square of ``side`` whose centre lies in ``cell``, clear of the other objects if it can be."""
    x0, y0, x1, y1 = cell_box(cell)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    reach = (x1 - x0) / 2 - 0.02  # the centre must stay inside the cell
    for dx, dy in ((0, 0), (reach, 0), (-reach, 0), (0, reach), (0, -reach), (reach, reach), (-reach, -reach),
                   (reach, -reach), (-reach, reach)):
        target = square_at(cx + dx, cy + dy, side)
        if not any(overlaps(target, o.box) for o in others):
            return target
    return square_at(cx, cy, side)


def relation_move(objects: list[DetectedObject], rel: str, subject: tuple, obj: tuple):
    """Where to move one of two objects so that the relation holds: a place inside the image, clear of
    every other object, far enough to pass with the checker's margin. The subject moves first, unless
    its position is pinned by the brief; then the object moves to the opposite side. ``subject`` and
    ``obj`` are (object, its group, group index, target side or None to keep its own size).
    Returns (moved object, its group, group index, target region, relation it takes, anchor group)."""
    (a, a_g, ai, a_side), (b, b_g, bi, b_side) = subject, obj
    plans = [(a, a_g, ai, a_side, b, rel, b_g), (b, b_g, bi, b_side, a, INVERSE[rel], a_g)]
    plans.sort(key=lambda p: p[1].position is not None)  # a pinned object stays where it is
    for moved, g, gi, side, anchor, how, anchor_g in plans:
        side = side or moved.side
        others = [o for o in objects if o is not moved]
        dx, dy = SIDES[how]
        for gap_extra in (0.08, 0.14, 0.04):
            gap = moved.side / 2 + anchor.side / 2 + gap_extra
            for shift in (0.0, 0.2, -0.2, 0.35, -0.35):  # slide across the relation's axis
                cx = anchor.center[0] + dx * gap + (shift if dx == 0 else 0)
                cy = anchor.center[1] + dy * gap + (shift if dy == 0 else 0)
                target = square_at(cx, cy, side)
                if not relation_holds(how, target.center, anchor.center):
                    continue
                if any(overlaps(target, o.box) for o in others):
                    continue
                return moved, g, gi, target, how, anchor_g
    return None
