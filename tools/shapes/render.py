"""Draw scenes that satisfy a brief: a random but valid layout, anti-aliased, at any resolution."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from tools.errors import LayoutError
from tools.shapes.brief import Brief
from tools.shapes.vocab import (
    CELLS,
    COLOURS,
    RELATION_MARGIN,
    SIZE_RANGES,
    SIZES,
    SHAPES,
    cell_box,
    relation_holds,
)

EDGE = 0.02  # objects keep this far from the image border
GAP = 0.04  # and this far from each other, so the detector sees them apart
CELL_MARGIN = 0.03  # centres of positioned objects keep this far inside their cell
RELATION_SLACK = 0.05  # rendered relations hold by this much more than the checker needs


@dataclass(frozen=True)
class Placement:
    """One drawn object; side, cx and cy are fractions of the image side."""

    group: int
    colour: str
    shape: str
    size: str
    side: float
    cx: float
    cy: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        h = self.side / 2
        return (self.cx - h, self.cy - h, self.cx + h, self.cy + h)


@dataclass(frozen=True)
class Scene:
    background: str
    objects: tuple[Placement, ...]

    def to_dict(self) -> dict:
        return {"background": self.background, "objects": [asdict(o) for o in self.objects]}


def _apart(a: Placement, b: Placement) -> bool:
    ax0, ay0, ax1, ay1 = a.box
    bx0, by0, bx1, by1 = b.box
    return ax1 + GAP <= bx0 or bx1 + GAP <= ax0 or ay1 + GAP <= by0 or by1 + GAP <= ay0


def _choose_colours(brief: Brief, rng: np.random.Generator) -> tuple[str, list[str]]:
    """Background and one colour per group, filling in what the brief leaves open."""
    named = {g.colour for g in brief.groups if g.colour}
    background = brief.background or str(rng.choice([c for c in COLOURS if c not in named]))
    colours: list[str] = []
    for g in brief.groups:
        if g.colour:
            colours.append(g.colour)
            continue
        taken = {(c, h.shape) for c, h in zip(colours, brief.groups)} | {
            (h.colour, h.shape) for h in brief.groups if h.colour}
        options = [c for c in COLOURS if c != background and (c, g.shape) not in taken]
        colours.append(str(rng.choice(options)))
    return background, colours


def _group_bounds(brief: Brief, sizes: list[str]) -> list[list[float]] | None:
    """Centre intervals [xlo, xhi, ylo, yhi] per group, narrowed by cells and then by the links.

    Propagating the links both ways before sampling matters: in "A below B at bottom left" the
    cell of B pushes A to the very bottom, which blind rejection sampling would rarely find.
    """
    bounds = []
    for g, size in zip(brief.groups, sizes):
        half = SIZE_RANGES[size][0] / 2
        lo, hi = half + EDGE, 1 - half - EDGE
        b = [lo, hi, lo, hi]
        if g.position:
            x0, y0, x1, y1 = cell_box(g.position)
            b = [max(lo, x0 + CELL_MARGIN), min(hi, x1 - CELL_MARGIN),
                 max(lo, y0 + CELL_MARGIN), min(hi, y1 - CELL_MARGIN)]
        bounds.append(b)
    m = RELATION_MARGIN + RELATION_SLACK
    for _ in range(len(bounds)):
        for i, link in enumerate(brief.links):
            if link is None:
                continue
            a, b = bounds[i], bounds[i + 1]
            if link in ("left of", "above"):  # a < b - m along the axis
                k = 0 if link == "left of" else 2
                b[k] = max(b[k], a[k] + m)
                a[k + 1] = min(a[k + 1], b[k + 1] - m)
            else:  # right of / below: a > b + m
                k = 0 if link == "right of" else 2
                a[k] = max(a[k], b[k] + m)
                b[k + 1] = min(b[k + 1], a[k + 1] - m)
    if any(b[0] > b[1] or b[2] > b[3] for b in bounds):
        return None
    return bounds


def layout(brief: Brief, rng: np.random.Generator, tries: int = 400) -> Scene:
    """Sample positions and sizes that satisfy every statement of the brief (rejection sampling)."""
    background, colours = _choose_colours(brief, rng)
    for _ in range(tries):
        sizes = [g.size or str(rng.choice(SIZES)) for g in brief.groups]
        bounds = _group_bounds(brief, sizes)
        if bounds is None:
            continue
        placed: list[Placement] = []
        ok = True
        for gi, g in enumerate(brief.groups):
            for _k in range(g.count):
                lo, hi = SIZE_RANGES[sizes[gi]]
                side = float(rng.uniform(lo, hi))
                xlo, xhi, ylo, yhi = bounds[gi]
                xlo, ylo = max(xlo, side / 2 + EDGE), max(ylo, side / 2 + EDGE)
                xhi, yhi = min(xhi, 1 - side / 2 - EDGE), min(yhi, 1 - side / 2 - EDGE)
                # Links join consecutive groups, so the previous group's centres bound this one.
                link = brief.links[gi - 1] if gi > 0 else None
                prev = [q for q in placed if q.group == gi - 1]
                if link and prev:
                    m = RELATION_MARGIN + RELATION_SLACK
                    if link == "left of":  # previous is left of this one
                        xlo = max(xlo, max(q.cx for q in prev) + m)
                    elif link == "right of":
                        xhi = min(xhi, min(q.cx for q in prev) - m)
                    elif link == "above":
                        ylo = max(ylo, max(q.cy for q in prev) + m)
                    elif link == "below":
                        yhi = min(yhi, min(q.cy for q in prev) - m)
                if xlo > xhi or ylo > yhi:
                    ok = False
                    break
                p = Placement(gi, colours[gi], g.shape, sizes[gi], side,
                              float(rng.uniform(xlo, xhi)), float(rng.uniform(ylo, yhi)))
                if not all(_apart(p, q) for q in placed):
                    ok = False
                    break
                placed.append(p)
            if not ok:
                break
        if ok and _relations_hold(brief, placed):
            return Scene(background, tuple(placed))
    raise LayoutError(f"no layout satisfies '{brief.text()}' after {tries} tries; "
                      "its positions, relations or sizes may contradict each other")


def _relations_hold(brief: Brief, placed: list[Placement]) -> bool:
    for i, link in enumerate(brief.links):
        if link is None:
            continue
        for a in (p for p in placed if p.group == i):
            for b in (p for p in placed if p.group == i + 1):
                if not relation_holds(link, (a.cx, a.cy), (b.cx, b.cy), RELATION_MARGIN + RELATION_SLACK):
                    return False
    return True


def shape_polygon(shape: str, box: tuple[float, float, float, float]) -> list[tuple[float, float]] | None:
    """Vertices of a polygonal shape inside a box (None for a circle, which is an ellipse)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "square":
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if shape == "triangle":
        return [(cx, y0), (x1, y1), (x0, y1)]
    if shape == "diamond":
        return [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
    if shape == "circle":
        return None
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float],
               fill) -> None:
    poly = shape_polygon(shape, box)
    if poly is None:
        draw.ellipse(box, fill=fill)
    else:
        draw.polygon(poly, fill=fill)


def draw(scene: Scene, size: int = 64, supersample: int = 4) -> Image.Image:
    """Rasterise a scene; drawing at ``supersample`` times the size and shrinking anti-aliases edges."""
    big = size * supersample
    img = Image.new("RGB", (big, big), COLOURS[scene.background])
    pen = ImageDraw.Draw(img)
    for o in scene.objects:
        box = tuple(v * big for v in o.box)
        draw_shape(pen, o.shape, box, COLOURS[o.colour])
    return img.resize((size, size), Image.Resampling.BOX)


def render(brief: Brief, rng: np.random.Generator, size: int = 64) -> tuple[Image.Image, Scene]:
    """A picture that satisfies the brief, and the scene it was drawn from."""
    scene = layout(brief, rng)
    return draw(scene, size), scene


__all__ = ["Placement", "Scene", "layout", "draw", "render", "shape_polygon", "draw_shape", "CELLS"]
