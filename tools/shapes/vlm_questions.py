"""Questions about one image and their answers, labelled by the exact checker on its detection.

Each image gets yes/no questions in the checklist's own words and localisation questions. The
texts come from three places: the brief the image was made for (the checklist a run asks), a brief
that describes what the detector found, and perturbations of both that make hard negatives (a
near colour, the swapped relation, one object too many, a neighbouring cell, the other size, an
object that is not there). Whatever its origin, every text is labelled by checking it on the
image's detection (``tools/shapes/check.py``), never by assuming what a perturbation did.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.shapes.brief import Brief, Group
from tools.shapes.check import check
from tools.shapes.detect import DetectedObject, Detection
from tools.shapes.vlm_format import NO, YES, detect_answer
from tools.shapes.vocab import CELLS, COLOURS, MAX_OBJECTS, RELATIONS, SHAPES, SIZES, plural, relation_holds

# Colours the diffusion model and the detector confuse most (neighbours in hue or lightness).
NEAR_COLOURS = {"red": ("orange", "purple"), "orange": ("red", "yellow"), "yellow": ("orange", "white", "green"),
                "green": ("yellow", "blue"), "blue": ("purple", "green"), "purple": ("blue", "red"),
                "white": ("yellow",), "black": ("purple", "blue")}
SWAPPED = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
OTHER_AXIS = {"left of": ("above", "below"), "right of": ("above", "below"), "above": ("left of", "right of"),
              "below": ("left of", "right of")}


@dataclass(frozen=True)
class Question:
    kind: str  # the requirement's kind, or "detect"
    text: str  # the requirement text, or the label to find
    answer: str  # "Yes" / "No", or the localisation answer
    source: str  # "brief", "scene", a perturbation's name, or "present" / "absent" for detect

    def to_list(self) -> list[str]:
        return [self.kind, self.text, self.answer, self.source]


def detection_from_dict(d: dict) -> Detection:
    return Detection(background=d["background"], objects=tuple(
        DetectedObject(**{**o, "box": tuple(o["box"])}) for o in d["objects"]))


def _choice(rng: np.random.Generator, options):
    options = list(options)
    return options[int(rng.integers(len(options)))]


def scene_brief(det: Detection, rng: np.random.Generator) -> Brief | None:
    """A brief that the detected scene mostly satisfies: its objects, cells, sizes and relations."""
    kinds: dict[tuple[str, str], list[DetectedObject]] = {}
    for o in det.objects:
        kinds.setdefault((o.colour, o.shape), []).append(o)
    keys = [k for k in kinds if len(kinds[k]) <= MAX_OBJECTS]
    if not keys:
        return None
    order = rng.permutation(len(keys))[: int(rng.integers(1, min(3, len(keys)) + 1))]
    groups, members = [], []
    for i in order:
        objs = kinds[keys[i]]
        sizes = {o.size for o in objs}
        groups.append(Group(colour=keys[i][0], shape=keys[i][1], count=len(objs),
                            size=sizes.pop() if len(sizes) == 1 and rng.random() < 0.5 else None,
                            position=objs[0].cell if len(objs) == 1 and rng.random() < 0.5 else None))
        members.append(objs)
    links = []
    for a, b in zip(members, members[1:]):
        holding = [r for r in RELATIONS if all(relation_holds(r, x.center, y.center) for x in a for y in b)]
        links.append(_choice(rng, holding) if holding and rng.random() < 0.8 else None)
    return Brief(groups=groups, links=links, background=det.background if rng.random() < 0.7 else None)


def _with_group(brief: Brief, i: int, **change) -> Brief:
    groups = list(brief.groups)
    groups[i] = groups[i].model_copy(update=change)
    return brief.model_copy(update={"groups": groups})


# How often each perturbation is drawn where it applies: relations are rare in briefs and hard.
PERTURBATIONS = {"near colour": 2, "other colour": 1, "other shape": 1, "missing object": 1, "count": 1,
                 "size": 1, "cell": 1, "swapped relation": 2, "other relation": 1, "new relation": 2,
                 "background": 1}


def perturb(brief: Brief, det: Detection, rng: np.random.Generator) -> tuple[str, Brief]:
    """One hard-negative candidate: the brief with one fact changed, and the change's name."""
    i = int(rng.integers(len(brief.groups)))
    g = brief.groups[i]
    linked = [k for k, link in enumerate(brief.links) if link]
    unlinked = [k for k, link in enumerate(brief.links) if not link]
    usable = {"near colour": g.colour is not None, "cell": g.count == 1, "swapped relation": bool(linked),
              "other relation": bool(linked), "new relation": bool(unlinked)}
    names = [h for h in PERTURBATIONS if usable.get(h, True)]
    weights = np.array([PERTURBATIONS[h] for h in names], float)
    how = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if how == "near colour":
        return how, _with_group(brief, i, colour=_choice(rng, NEAR_COLOURS[g.colour]))
    if how == "other colour":
        return how, _with_group(brief, i, colour=_choice(rng, [c for c in COLOURS if c != g.colour]))
    if how == "other shape":
        return how, _with_group(brief, i, shape=_choice(rng, [s for s in SHAPES if s != g.shape]))
    if how == "missing object":
        present = {(o.colour, o.shape) for o in det.objects}
        absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present and c != det.background]
        c, s = _choice(rng, absent)
        return how, _with_group(brief, i, colour=c, shape=s, count=1, size=None, position=None)
    if how == "count":
        options = [n for n in (g.count - 1, g.count + 1) if 1 <= n <= MAX_OBJECTS]
        # Counted groups never have a cell in a brief (tools/shapes/sample.py).
        return how, _with_group(brief, i, count=_choice(rng, options), position=None)
    if how == "size":
        return how, _with_group(brief, i, size=_choice(rng, [s for s in SIZES if s != g.size]))
    if how == "cell":
        near = _neighbours(g.position) if g.position and rng.random() < 0.7 else [c for c in CELLS if c != g.position]
        return how, _with_group(brief, i, position=_choice(rng, near))
    if how == "background":
        bg = brief.background or det.background
        return how, brief.model_copy(update={"background": _choice(rng, NEAR_COLOURS[bg])})
    links = list(brief.links)
    k = _choice(rng, unlinked if how == "new relation" else linked)
    links[k] = {"swapped relation": lambda r: SWAPPED[r], "other relation": lambda r: _choice(rng, OTHER_AXIS[r]),
                "new relation": lambda r: _choice(rng, RELATIONS)}[how](links[k])
    return how, brief.model_copy(update={"links": links})


def _neighbours(cell: str) -> list[str]:
    c, r = CELLS[cell]
    return [n for n, (cc, rr) in CELLS.items() if max(abs(cc - c), abs(rr - r)) == 1]


def labelled(brief: Brief, det: Detection, source: str, skip: set[str] = frozenset()) -> list[Question]:
    """Every requirement of a brief with the checker's verdict on the detection."""
    reqs = [r for r in brief.requirements() if r.text not in skip]
    if not reqs:
        return []
    results = check(brief, reqs, det).results
    return [Question(r.kind, r.text, YES if res.passed else NO, source) for r, res in zip(reqs, results)]


def vqa_questions(det: Detection, rng: np.random.Generator, n: int, brief: Brief | None = None,
                  perturbations: int = 8) -> list[Question]:
    """``n`` yes/no questions about an image, balanced over (kind, answer)."""
    pool: dict[str, Question] = {}
    bases = [b for b in (brief, scene_brief(det, rng)) if b is not None]
    for base, source in zip(bases, ("brief", "scene") if brief is not None else ("scene",)):
        for q in labelled(base, det, source):
            pool.setdefault(q.text, q)
    for _ in range(perturbations):
        base = bases[int(rng.integers(len(bases)))]
        name, changed = perturb(base, det, rng)
        known = {r.text for r in base.requirements()}
        for q in labelled(changed, det, name, skip=known):
            pool.setdefault(q.text, q)
    return balanced(list(pool.values()), rng, n)


def balanced(pool: list[Question], rng: np.random.Generator, n: int) -> list[Question]:
    """Sample without replacement, each (kind, answer) cell equally likely (Efraimidis-Spirakis)."""
    if len(pool) <= n:
        return pool
    cells: dict[tuple[str, str], int] = {}
    for q in pool:
        cells[(q.kind, q.answer)] = cells.get((q.kind, q.answer), 0) + 1
    weights = np.array([1.0 / cells[(q.kind, q.answer)] for q in pool])
    keys = rng.random(len(pool)) ** (1.0 / weights)
    return [pool[i] for i in np.argsort(-keys)[:n]]


def _label_matches(o: DetectedObject, colour: str | None, shape: str, size: str | None) -> bool:
    return o.shape == shape and (colour is None or o.colour == colour) and (size is None or o.size == size)


def detect_questions(det: Detection, rng: np.random.Generator, n: int) -> list[Question]:
    """Localisation questions: objects that are there (most) and objects that are not."""
    out = []
    for _ in range(n):
        if det.objects and rng.random() < 0.75:
            o = det.objects[int(rng.integers(len(det.objects)))]
            colour = None if rng.random() < 0.1 else o.colour
            size = o.size if rng.random() < 0.3 else None
            shape, source = o.shape, "present"
        else:
            colour, shape = _choice(rng, [c for c in COLOURS if c != det.background]), _choice(rng, SHAPES)
            size = _choice(rng, SIZES) if rng.random() < 0.3 else None
            source = "absent"
        boxes = [o.box for o in det.objects if _label_matches(o, colour, shape, size)]
        noun = shape if len(boxes) < 2 or rng.random() < 0.5 else plural(shape)
        label = " ".join(w for w in (size, colour, noun) if w)
        out.append(Question("detect", label, detect_answer(label, boxes), source if boxes else "absent"))
    return out


def evaluation_questions(det: Detection, rng: np.random.Generator, brief: Brief | None = None,
                         n: int = 8, detects: int = 2) -> list[Question]:
    """A held-out image's fixed questions: its brief's whole checklist, balanced extras, boxes."""
    own = labelled(brief, det, "brief") if brief is not None else []
    seen = {q.text for q in own}
    extra = [q for q in vqa_questions(det, rng, n, brief) if q.text not in seen]
    return own + extra + detect_questions(det, rng, detects)
