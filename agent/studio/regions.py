"""A region to redo, from what the person drew on the image (or typed), as fractions of the image."""
from __future__ import annotations

import numpy as np

from tools.errors import InputError


def _image_box(background, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the image sits on the editor's canvas (x0, y0, x1, y1 in canvas pixels): a canvas larger
    than the image is transparent around it."""
    h, w = shape
    bg = None if background is None else np.asarray(background)
    if bg is None or bg.ndim != 3 or bg.shape[:2] != (h, w) or bg.shape[-1] != 4 or not (bg[..., 3] > 0).any():
        return 0, 0, w, h
    ys, xs = np.nonzero(bg[..., 3] > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def region_of(editor: dict | None, box: str) -> list[float]:
    """The region to redo: a typed box ``x0 y0 x1 y1`` (fractions), else the box around every stroke
    drawn on the image, as fractions of the image. agent/answers.py checks the numbers."""
    if box and box.strip():
        try:
            return [float(p) for p in box.replace(",", " ").split()]
        except ValueError:
            raise InputError(f"the box {box!r} should be four numbers x0 y0 x1 y1 between 0 and 1") from None
    layers = [np.asarray(layer) for layer in (editor or {}).get("layers") or [] if layer is not None]
    painted = [layer[..., 3] > 0 for layer in layers if layer.ndim == 3 and layer.shape[-1] == 4]
    if not painted or not any(m.any() for m in painted):
        raise InputError("draw over the part of the image to redo first (or type a box)")
    mask = np.logical_or.reduce(painted)
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = _image_box((editor or {}).get("background"), mask.shape)

    def frac(v: float, lo: int, hi: int) -> float:
        return round(float(np.clip((v - lo) / (hi - lo), 0, 1)), 4)

    return [frac(xs.min(), x0, x1), frac(ys.min(), y0, y1), frac(xs.max() + 1, x0, x1), frac(ys.max() + 1, y0, y1)]
