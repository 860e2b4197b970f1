"""How a fallible critic errs: which verdicts are wrong, how likely, and what a wrong answer says.

Every draw is a deterministic hash of (seed, image content hash, requirement id, purpose), never a
random generator, so one image and requirement get one answer in every process and through every
question; see :mod:`agent.critics.noisy` for the critic that applies this model.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from PIL import Image

from tools.contracts import Region, Requirement
from tools.errors import BriefError
from tools.shapes.brief import Brief, Group
from tools.shapes.detect import DetectedObject, Detection, detect, srgb_to_lab
from tools.shapes.parse import parse_brief
from tools.shapes.vocab import COLOURS, RELATION_MARGIN, SIZE_THRESHOLD


@dataclass(frozen=True)
class NoiseSettings:
    """rate: expected share of wrong verdicts; yes: share of mistakes that are false passes (None:
    unbiased); near: how much likelier a mistake is on a borderline answer; seed: which mistakes."""

    rate: float
    yes: float | None = None
    near: float = 0.0
    seed: int = 0

    def label(self) -> str:
        """The canonical option string ("0.1,yes=0.7,near=2"); defaults are left out."""
        parts = [f"{self.rate:g}"]
        if self.yes is not None:
            parts.append(f"yes={self.yes:g}")
        if self.near:
            parts.append(f"near={self.near:g}")
        if self.seed:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)


def unit_hash(*key: object) -> float:
    """A uniform number in [0, 1) that depends only on ``key``: the same in every process."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


def flip_probabilities(passed: dict[str, bool], difficulty: dict[str, float],
                       settings: NoiseSettings) -> dict[str, float]:
    """The chance that each verdict of one image is reported wrong.

    Mistakes are a budget of ``rate * n`` per image, shared out in proportion to ``1 + near *
    difficulty``, so weighting hard questions moves mistakes onto them without changing how many
    there are. With ``yes`` the budget is split first: ``yes`` of it goes to the requirements that
    fail (false passes), the rest to those that pass (false failures). A share that cannot be spent
    (no failing requirement to pass wrongly, or a probability capped at 1) is lost, not moved: a
    yes-biased judge does not start rejecting perfect images to make up its numbers.
    """
    n = len(passed)
    if n == 0 or settings.rate == 0:
        return {rid: 0.0 for rid in passed}
    weight = {rid: 1.0 + settings.near * difficulty.get(rid, 0.0) for rid in passed}
    if settings.yes is None:
        pools = [(list(passed), settings.rate * n)]
    else:
        pools = [([r for r, ok in passed.items() if not ok], settings.yes * settings.rate * n),
                 ([r for r, ok in passed.items() if ok], (1 - settings.yes) * settings.rate * n)]
    out: dict[str, float] = {}
    for ids, budget in pools:
        total = sum(weight[r] for r in ids)
        for rid in ids:
            out[rid] = min(1.0, budget * weight[rid] / total)
    return out


# -- what a wrong verdict says ----------------------------------------------------------------
_PASS_WORDING = {"object": "found {text}", "count": "found {text}", "background": "{text}"}
_FAIL_WORDING = {"object": "cannot find {text}", "count": "did not find {text}",
                 "background": "not a {text}"}


def false_pass_evidence(req: Requirement) -> str:
    """What a judge says when it wrongly passes a requirement: a plain assertion that it holds."""
    return _PASS_WORDING.get(req.kind, "{text}: yes").format(text=req.text)


def false_fail_evidence(req: Requirement) -> str:
    """What a judge says when it wrongly fails a requirement: that it does not hold."""
    return _FAIL_WORDING.get(req.kind, "{text}: no").format(text=req.text)


def mistaken_region(anchor: Region | None, *key: object) -> Region | None:
    """Where a judge points when it wrongly fails a requirement: a third of the time nowhere, else
    at the thing it is about (``anchor``, or a guessed spot when unknown) shifted or drawn loose."""
    mode, a, b = (unit_hash(*key, "region", i) for i in range(3))
    if mode < 1 / 3:
        return None
    if anchor is None:  # nothing known to point at: a box somewhere in the image
        return _box(0.2 + 0.6 * a, 0.2 + 0.6 * b, 0.3, 0.3)
    (cx, cy), w, h = anchor.center, anchor.x1 - anchor.x0, anchor.y1 - anchor.y0
    if mode < 2 / 3:  # shifted by half to one box size, in a direction drawn from the key
        angle, dist = 2 * math.pi * a, (0.5 + 0.5 * b) * max(w, h)
        return _box(cx + dist * math.cos(angle), cy + dist * math.sin(angle), w, h)
    return anchor.padded(0.05 + 0.15 * a)  # loose: a box too big by 5-20% of the image per side


def _box(cx: float, cy: float, w: float, h: float) -> Region:
    """A w x h box centred as near (cx, cy) as the image allows."""
    w, h = min(w, 1.0), min(h, 1.0)
    x0, y0 = min(max(cx - w / 2, 0.0), 1.0 - w), min(max(cy - h / 2, 0.0), 1.0 - h)
    return Region(x0=x0, y0=y0, x1=min(1.0, x0 + w), y1=min(1.0, y0 + h))  # min: float rounding


# -- how borderline an answer is in the shapes world ---------------------------------------------
_PALETTE_LAB = srgb_to_lab(np.array(list(COLOURS.values()), dtype=np.float32))


@lru_cache(maxsize=256)
def _parsed(brief: str) -> Brief | None:
    try:
        return parse_brief(brief)
    except BriefError:
        return None


def _smallness(side: float) -> float:
    """1 for the smallest objects the world draws (0.14 of the side), 0 from 0.34 up."""
    return min(1.0, max(0.0, (0.34 - side) / 0.2))


def _closeness(value: float, threshold: float, width: float) -> float:
    """1 at the threshold, falling linearly to 0 at ``width`` away from it."""
    return max(0.0, 1.0 - abs(value - threshold) / width)


class ShapesMeasure:
    """The detector's view of one shapes-world image: how close each requirement's answer is to
    flipping (sizes near the small/large threshold, centres near a cell edge or the relation margin,
    colours between two palette entries, small objects) and where the objects it is about are."""

    def __init__(self, image: Image.Image, brief: Brief):
        self.image, self.brief = image, brief

    @classmethod
    def of(cls, image: Image.Image, brief: str, checklist: list[Requirement]) -> "ShapesMeasure | None":
        """The measure for a shapes brief whose checklist the shapes grammar made, else None."""
        if not any(r.spec and "check" in r.spec for r in checklist):
            return None
        parsed = _parsed(brief)
        return cls(image, parsed) if parsed is not None else None

    @cached_property
    def detection(self) -> Detection:  # measured only when a question needs it
        return detect(self.image)

    def objects(self, group: Group) -> list[DetectedObject]:
        """The objects a judge would look at for a group: its matches, else its nearest miss."""
        found = self.detection.objects
        match = [o for o in found if o.shape == group.shape and group.colour in (None, o.colour)]
        if match:
            return match[: group.count]
        return [o for o in found if o.shape == group.shape or o.colour == group.colour][:1]

    def difficulty(self, req: Requirement) -> float:
        """0 for a clear-cut answer, up to 1 for one on the edge."""
        spec = req.spec or {}
        check = spec.get("check")
        if check == "background":
            return self._colour_doubt(self._border_pixels())
        if check not in ("object", "count", "size", "position", "relation"):
            return 0.0
        objs = self.objects(self.brief.groups[spec["group"]])
        if check in ("object", "count"):  # small or off-colour objects are easy to miss
            return max((max(_smallness(o.side), self._colour_doubt(self._centre_pixels(o))) for o in objs),
                       default=0.0)
        if check == "size":
            return max((_closeness(o.side, SIZE_THRESHOLD, 0.1) for o in objs), default=0.0)
        if check == "position":  # distance of the centre to the nearest inner grid line
            return max((_closeness(min(abs(c - t) for c in o.center for t in (1 / 3, 2 / 3)), 0.0, 1 / 6)
                        for o in objs), default=0.0)
        others = self.objects(self.brief.groups[spec["other"]])
        axis = 0 if spec["relation"] in ("left of", "right of") else 1
        return max((_closeness(abs(a.center[axis] - b.center[axis]), RELATION_MARGIN, 0.15)
                    for a in objs for b in others), default=0.0)

    def anchor(self, req: Requirement) -> Region | None:
        """The box of the objects a requirement is about (padded like the checker's), if any."""
        spec = req.spec or {}
        if spec.get("group") is None:
            return None
        objs = self.objects(self.brief.groups[spec["group"]])
        if not objs:
            return None
        x0, y0 = min(o.box[0] for o in objs), min(o.box[1] for o in objs)
        x1, y1 = max(o.box[2] for o in objs), max(o.box[3] for o in objs)
        return Region(x0=max(0.0, x0), y0=max(0.0, y0), x1=min(1.0, x1), y1=min(1.0, y1)).padded(0.05)

    @cached_property
    def _pixels(self) -> np.ndarray:
        return np.asarray(self.image.convert("RGB"), dtype=np.float32)

    def _border_pixels(self) -> np.ndarray:
        rgb = self._pixels
        return np.concatenate([rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3)])

    def _centre_pixels(self, o: DetectedObject) -> np.ndarray:
        """The middle of an object's box, clear of its anti-aliased edge."""
        rgb = self._pixels
        h, w, _ = rgb.shape
        (cx, cy), r = o.center, o.side * 0.15
        y0, y1 = int((cy - r) * h), max(int((cy - r) * h) + 1, int((cy + r) * h))
        x0, x1 = int((cx - r) * w), max(int((cx - r) * w) + 1, int((cx + r) * w))
        return rgb[max(0, y0):y1, max(0, x0):x1].reshape(-1, 3)

    @staticmethod
    def _colour_doubt(rgb: np.ndarray) -> float:
        """0 for a palette colour, 1 for one halfway between the two nearest palette colours."""
        if rgb.size == 0:
            return 0.0
        lab = srgb_to_lab(np.median(rgb, axis=0))
        d = np.sort(np.linalg.norm(_PALETTE_LAB - lab, axis=-1))
        return float(d[0] / max(d[1], 1e-6))
