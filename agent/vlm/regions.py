"""Boxes from a model's reply, in whichever convention it used, as normalised Regions.

Models are asked for fractions of the image (0-1), but grounding models answer in the convention
they were trained on: Qwen2-VL and Qwen3-VL in 0-1000, Qwen2.5-VL in pixels of the image it saw.
A reply is read in one convention for all its boxes (a model does not switch mid-answer), detected
from the values when they tell (all <= 1: fractions; beyond the image: 0-1000) and otherwise from
the model family, then clamped to the image. A box that is empty after clamping becomes None: a
region is a hint for where to fix, and a wrong hint is worse than none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from tools.contracts import Region

CONVENTIONS = ("unit", "thousand", "pixels")

# Conventions of model families, used only when the values fit more than one convention.
_FAMILY_CONVENTION = {"qwen2.5-vl": "pixels", "qwen2-vl": "thousand", "qwen3-vl": "thousand",
                      "qwen-vl": "thousand"}
FAMILIES = tuple(_FAMILY_CONVENTION)


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_. ")


def model_family(model: str) -> str | None:
    """The family a model name belongs to, however a server spells it: vLLM's
    "Qwen/Qwen2.5-VL-7B-Instruct", Ollama's "qwen2.5vl:7b", "qwen2_5_vl" (all "qwen25vl" squashed)."""
    name = _squash(model)
    for family in FAMILIES:
        if _squash(family) in name:
            return family
    return None


def family_convention(model: str) -> str | None:
    family = model_family(model)
    return _FAMILY_CONVENTION[family] if family else None


def detect_convention(boxes: Iterable[Sequence[float]], size: tuple[int, int], hint: str | None = None) -> str:
    """The convention of a reply's boxes, given the size (w, h) of the image the model was sent."""
    boxes = [b for b in boxes if b is not None and len(b) == 4]
    if not boxes:
        return "unit"
    xs = [v for b in boxes for v in (b[0], b[2])]
    ys = [v for b in boxes for v in (b[1], b[3])]
    top = max(max(xs), max(ys))
    if top <= 1.0:
        return "unit"
    w, h = size
    # One pixel of slack: models often write the far edge as the width itself.
    if max(xs) > w + 1 or max(ys) > h + 1:
        return "thousand" if top <= 1000 + 1 else "pixels"
    return hint or "pixels"


def to_region(box: Sequence[float] | None, convention: str, size: tuple[int, int]) -> Region | None:
    """A box [x0, y0, x1, y1] in ``convention`` as a Region clamped to the image, or None if empty."""
    if box is None:
        return None
    if len(box) != 4:
        raise ValueError(f"a box needs 4 numbers [x0, y0, x1, y1], got {len(box)}")
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown box convention {convention!r}; use one of {CONVENTIONS}")
    w, h = size
    sx, sy = {"unit": (1.0, 1.0), "thousand": (1000.0, 1000.0), "pixels": (float(w), float(h))}[convention]
    x0, y0, x1, y1 = (float(box[0]) / sx, float(box[1]) / sy, float(box[2]) / sx, float(box[3]) / sy)
    # Corners given in the other order are still a box.
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in (x0, y0, x1, y1))
    if x1 <= x0 or y1 <= y0:
        return None
    return Region(x0=x0, y0=y0, x1=x1, y1=y1)


def from_region(region: Region, convention: str, size: tuple[int, int]) -> list[float]:
    """A Region written in ``convention`` (the inverse of :func:`to_region`; used by test servers)."""
    w, h = size
    sx, sy = {"unit": (1.0, 1.0), "thousand": (1000.0, 1000.0), "pixels": (float(w), float(h))}[convention]
    return [region.x0 * sx, region.y0 * sy, region.x1 * sx, region.y1 * sy]


@dataclass(frozen=True)
class Found:
    """An object a localiser found for a label: where it is and how sure the localiser is (0-1)."""

    region: Region
    score: float


def keep_distinct(found: list[Found], most: int, overlap: float = 0.5) -> list[Found]:
    """The surest boxes, at most ``most``, none overlapping a surer one by more than ``overlap`` IoU:
    detectors report one object several times, a count requirement must not see it twice."""
    kept: list[Found] = []
    for f in sorted(found, key=lambda f: -f.score):
        if all(f.region.iou(k.region) <= overlap for k in kept):
            kept.append(f)
        if len(kept) == most:
            break
    return kept
