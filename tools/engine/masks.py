"""Masks from regions, and pasting generated pixels back only where the mask allows."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from pydantic import ValidationError

from tools.contracts import Region
from tools.engine.images import image_hash
from tools.errors import InputError


def as_region(value: object) -> Region:
    """Accept a Region, a dict or an (x0, y0, x1, y1) sequence of normalised coordinates."""
    if isinstance(value, Region):
        return value
    try:
        if isinstance(value, dict):
            return Region.model_validate(value)
        x0, y0, x1, y1 = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise InputError(f"a region must be (x0, y0, x1, y1) in 0..1, got {value!r}") from exc
    for name, v in (("x0", x0), ("y0", y0), ("x1", x1), ("y1", y1)):
        if not 0.0 <= v <= 1.0:
            raise InputError(f"region {name}={v:g} lies outside the image: coordinates are fractions "
                             "of the width and height, from 0 to 1")
    try:
        return Region(x0=x0, y0=y0, x1=x1, y1=y1)
    except ValidationError as exc:
        raise InputError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


def region_mask(region: Region, size: tuple[int, int], pad: float = 0.0) -> Image.Image:
    """A hard 'L' mask (255 = repaint) of the region grown by ``pad`` of the image side."""
    w, h = size
    r = region.padded(pad) if pad else region
    x0, y0 = int(np.floor(r.x0 * w)), int(np.floor(r.y0 * h))
    x1, y1 = int(np.ceil(r.x1 * w)), int(np.ceil(r.y1 * h))
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"region {region.as_tuple()} covers no whole pixel of a {w}x{h} image; make it larger")
    arr = np.zeros((h, w), np.uint8)
    arr[y0:y1, x0:x1] = 255
    return Image.fromarray(arr, "L")


def feathered(mask: Image.Image, feather: float) -> Image.Image:
    """Soften a mask's edge by a Gaussian of ``feather`` pixels, kept inside the hard mask's
    dilation so that pixels far from the region stay exactly 0."""
    if feather <= 0:
        return mask
    return mask.filter(ImageFilter.GaussianBlur(feather))


def check_mask(mask: Image.Image, image: Image.Image) -> Image.Image:
    if not isinstance(mask, Image.Image):
        raise InputError(f"mask must be a PIL image, not {type(mask).__name__}")
    if mask.size != image.size:
        raise InputError(f"mask is {mask.width}x{mask.height} but the image is {image.width}x{image.height}; "
                         "make them the same size")
    mask = mask.convert("L")
    if not np.asarray(mask).any():
        raise InputError("the mask is empty (all black): nothing would be repainted")
    return mask


def paste_back(original: Image.Image, generated: Image.Image, soft_mask: Image.Image) -> Image.Image:
    """Blend generated pixels in by the soft mask; where the mask is 0 the original is kept exactly."""
    if generated.size != original.size:
        generated = generated.resize(original.size, Image.Resampling.LANCZOS)
    m = np.asarray(soft_mask, dtype=np.float32)[..., None] / 255.0
    a = np.asarray(original, dtype=np.float32)
    b = np.asarray(generated.convert("RGB"), dtype=np.float32)
    out = np.where(m > 0, a * (1 - m) + b * m, a)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def changed_outside(before: Image.Image, after: Image.Image, mask: Image.Image, tol: int = 0) -> float:
    """Share of pixels outside the mask whose value changed by more than ``tol`` (drift check)."""
    a = np.asarray(before.convert("RGB"), dtype=np.int16)
    b = np.asarray(after.convert("RGB"), dtype=np.int16)
    outside = np.asarray(mask.convert("L")) == 0
    if not outside.any():
        return 0.0
    diff = np.abs(a - b).max(axis=-1) > tol
    return float(diff[outside].mean())


def inpaint_mask(image: Image.Image, region: object, mask: Image.Image | None,
                 pad: float) -> tuple[Image.Image, dict]:
    """The hard mask of an inpaint call from exactly one of a region or a mask, and how to record it."""
    if not 0 <= pad < 0.5:
        raise InputError(f"pad must be in [0, 0.5) of the image side, got {pad}")
    if (region is None) == (mask is None):
        raise InputError("inpaint needs exactly one of region (a normalised box) or mask (an image)")
    if region is not None:
        reg = as_region(region)
        return region_mask(reg, image.size, pad), {"region": list(reg.as_tuple()), "pad": pad}
    hard = check_mask(mask, image)
    return hard, {"mask_sha256": image_hash(hard)[:16]}
