"""Seeded random briefs by difficulty, for training data and for the benchmark."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.errors import LayoutError
from tools.shapes.brief import Brief, Group
from tools.shapes.render import layout
from tools.shapes.vocab import CELLS, COLOURS, RELATIONS, SHAPES, SIZES


@dataclass(frozen=True)
class BriefStyle:
    """How often each optional part of a brief is stated."""

    p_size: float = 0.6
    p_position: float = 0.4
    p_relation: float = 0.6
    p_count: float = 0.3
    p_background: float = 0.85


def _partition(n_objects: int, counts: bool, style: BriefStyle, rng: np.random.Generator) -> list[int]:
    """How many objects each group holds, e.g. 3 -> [2, 1] when counts are used."""
    if not counts or n_objects == 1 or rng.random() >= style.p_count:
        return [1] * n_objects
    if n_objects == 2:
        return [2]
    return [[3], [2, 1], [1, 2]][int(rng.integers(3))]


def random_brief(rng: np.random.Generator, n_objects: int, *, relations: bool = True,
                 counts: bool = True, style: BriefStyle = BriefStyle(), tries: int = 100) -> Brief:
    """A random brief with exactly ``n_objects`` objects that some layout satisfies."""
    if not 1 <= n_objects <= 3:
        raise ValueError(f"n_objects must be 1, 2 or 3, not {n_objects}")
    for _ in range(tries):
        sizes = _partition(n_objects, counts, style, rng)
        background = str(rng.choice(list(COLOURS))) if rng.random() < style.p_background else None
        groups: list[Group] = []
        used: set[tuple[str, str]] = set()
        for count in sizes:
            while True:
                colour = str(rng.choice([c for c in COLOURS if c != background]))
                shape = str(rng.choice(SHAPES))
                if (colour, shape) not in used:
                    break
            used.add((colour, shape))
            size = str(rng.choice(SIZES)) if rng.random() < style.p_size else None
            # Counted groups never get a cell: two or three objects rarely fit inside one.
            free = [c for c in CELLS if c not in {h.position for h in groups}]
            position = (str(rng.choice(free))
                        if count == 1 and rng.random() < style.p_position else None)
            groups.append(Group(shape=shape, colour=colour, size=size, count=count, position=position))
        links = [str(rng.choice(RELATIONS)) if relations and rng.random() < style.p_relation else None
                 for _ in groups[1:]]
        brief = Brief(groups=groups, links=links, background=background)
        try:
            # Few tries on purpose: a brief that only a sliver of layouts satisfies is a poor test
            # and a poor training example, and the renderer might miss it later.
            layout(brief, np.random.default_rng(int(rng.integers(2**31))), tries=20)
        except LayoutError:
            continue
        return brief
    raise RuntimeError("could not sample a satisfiable brief")  # pragma: no cover


def benchmark_briefs(seed: int, n: int, n_objects: int) -> list[Brief]:
    """The benchmark's briefs: every part stated often, relations and counts included."""
    rng = np.random.default_rng([seed, n_objects])
    style = BriefStyle(p_size=0.5, p_position=0.3, p_relation=0.7, p_count=0.3, p_background=1.0)
    return [random_brief(rng, n_objects, style=style) for _ in range(n)]
