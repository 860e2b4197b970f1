"""The fixed vocabulary of the shapes world and the geometry that gives each word its meaning.

All geometry is in fractions of the image side, so the world works at any resolution.
"""
from __future__ import annotations

# Object and background colours. Chosen far apart in Lab so that a blurred, noisy model output
# still lands nearest to the colour it was meant to be.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 145, 30),
    "yellow": (240, 220, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (145, 60, 190),
    "white": (245, 245, 245),
    "black": (25, 25, 25),
}
COLOUR_SYNONYMS = {"violet": "purple", "lilac": "purple", "gold": "yellow"}

SHAPES = ("circle", "square", "triangle", "diamond")
SHAPE_SYNONYMS = {"rhombus": "diamond", "ball": "circle", "disc": "circle", "disk": "circle"}

SIZES = ("small", "large")
SIZE_SYNONYMS = {"tiny": "small", "little": "small", "big": "large", "huge": "large"}

# Object side (the larger of width and height) as a fraction of the image side.
SIZE_RANGES = {"small": (0.14, 0.19), "large": (0.28, 0.34)}
SIZE_THRESHOLD = 0.235  # the detector calls an object large when its side is above this

# The 3x3 grid: name -> (column, row). An object is "at" a cell when its centre lies inside it.
CELLS: dict[str, tuple[int, int]] = {
    "top left": (0, 0),
    "top": (1, 0),
    "top right": (2, 0),
    "left": (0, 1),
    "center": (1, 1),
    "right": (2, 1),
    "bottom left": (0, 2),
    "bottom": (1, 2),
    "bottom right": (2, 2),
}

RELATIONS = ("left of", "right of", "above", "below")
# A relation holds when the centres differ by more than this along its axis.
RELATION_MARGIN = 0.10

COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
MAX_OBJECTS = 3


def cell_of(cx: float, cy: float) -> str:
    """The grid cell holding a point."""
    col = min(2, max(0, int(cx * 3)))
    row = min(2, max(0, int(cy * 3)))
    for name, (c, r) in CELLS.items():
        if (c, r) == (col, row):
            return name
    raise AssertionError("unreachable")


def cell_box(name: str) -> tuple[float, float, float, float]:
    """The normalised box of a grid cell."""
    col, row = CELLS[name]
    return (col / 3, row / 3, (col + 1) / 3, (row + 1) / 3)


def relation_holds(relation: str, a: tuple[float, float], b: tuple[float, float],
                   margin: float = RELATION_MARGIN) -> bool:
    """Whether centre ``a`` stands in ``relation`` to centre ``b``."""
    (ax, ay), (bx, by) = a, b
    if relation == "left of":
        return bx - ax > margin
    if relation == "right of":
        return ax - bx > margin
    if relation == "above":
        return by - ay > margin
    if relation == "below":
        return ay - by > margin
    raise ValueError(f"unknown relation {relation!r}")


def plural(shape: str) -> str:
    return shape + "s"


def vocabulary_summary() -> str:
    """A one-paragraph list of the words the grammar knows, for error messages and the README."""
    return (
        f"colours: {', '.join(COLOURS)}; shapes: {', '.join(SHAPES)}; sizes: {', '.join(SIZES)}; "
        f"counts: a/one, two, three (at most {MAX_OBJECTS} objects); "
        f"positions: at {', '.join(CELLS)}; relations: {', '.join(RELATIONS)}; "
        "background: ', <colour> background'"
    )


def tokenizer_words() -> list[str]:
    """Every word a canonical brief can contain; each becomes one token of the shapes tokenizer."""
    words: set[str] = set()
    words.update(COLOURS)
    words.update(SHAPES)
    words.update(plural(s) for s in SHAPES)
    words.update(SIZES)
    words.update(COUNT_WORDS.values())
    words.update(w for name in CELLS for w in name.split())
    words.update(w for rel in RELATIONS for w in rel.split())
    words.update({"an", "one", "at", "the", "and", "background", "on", "in", "with", "to", ","})
    return sorted(words)
