"""Colour guides for inpainting: prime a region with the colours that belong there.

A checkpoint without an inpainting UNet repaints a region by blending latents, and from pure noise
it tends to continue the surroundings: the region comes back empty. Laying down the background
colour and a blob of the wanted object's colour where the object belongs, then denoising at a
moderate strength, gives the model a layout to refine (the idea behind A1111's "fill" masked
content and SLD's pasted latents). The blob is an ellipse: the model draws the shape.

The engine carries out the guide it is given; whether an inpaint is guided, and by what, is the
policy's decision (agent/policy/strength.py reads it from the region's prompt).
"""
from __future__ import annotations

from matplotlib.colors import CSS4_COLORS, to_rgb
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.contracts import Region
from tools.engine.masks import as_region
from tools.errors import InputError

RGB = tuple[int, int, int]
#: Colour names a guide understands: the CSS/X11 names (red, navy, gold, ...).
COLOUR_NAMES = frozenset(CSS4_COLORS)


SURROUNDINGS = "surroundings"  # a background taken from the pixels just outside the mask


def resolve_colour(value: str | list | tuple, palette: dict[str, RGB] | None = None) -> RGB:
    """A colour name (the model's palette first, then CSS) or an (r, g, b) triple of 0..255."""
    if isinstance(value, str):
        name = value.strip().lower()
        if palette and name in palette:
            return tuple(palette[name])  # type: ignore[return-value]
        if name not in COLOUR_NAMES:
            raise InputError(f"unknown colour {value!r} for an inpaint guide; use a CSS colour name "
                             "(red, navy, gold, ...) or an [r, g, b] triple of 0..255")
        return tuple(round(c * 255) for c in to_rgb(name))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise InputError(f"an inpaint guide colour must be a CSS colour name or [r, g, b] of 0..255, got {value!r}")


class Guide(BaseModel):
    """What to lay down before repainting: ``background`` fills the masked area (a colour, or
    "surroundings": the median colour just outside the mask, as A1111's "fill"), ``colour`` draws an
    ellipse of ``size`` (share of the box side) centred in ``box`` (normalised; default: the mask's
    bounding box). Either may be None, not both."""

    model_config = ConfigDict(extra="forbid")

    colour: str | tuple[int, int, int] | None = None
    background: str | tuple[int, int, int] | None = None
    size: float = Field(0.6, gt=0, le=1)
    box: Region | None = None

    @field_validator("box", mode="before")
    @classmethod
    def _box(cls, v):
        return None if v is None else as_region(v)

    @field_validator("colour", "background")
    @classmethod
    def _known(cls, v):
        if v is not None and v != SURROUNDINGS:
            resolve_colour(v)
        return v

    def describe(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


def as_guide(value: Guide | dict) -> Guide:
    if isinstance(value, Guide):
        guide = value
    elif isinstance(value, dict):
        try:
            guide = Guide.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "guide"
            raise InputError(f"invalid inpaint guide ({where}: {first['msg']}); expected "
                             "{'colour': name, 'background': name, 'size': 0..1, 'box': [x0, y0, x1, y1]}") from None
    else:
        raise InputError(f"an inpaint guide is a dict or Guide, not {type(value).__name__}")
    if guide.colour is None and guide.background is None:
        raise InputError("an inpaint guide needs a colour, a background, or both")
    return guide


def surrounding_colour(image: Image.Image, mask: Image.Image, width: int = 3) -> RGB:
    """The median colour of a ring ``width`` pixels wide just outside the mask (the whole image's
    median when the mask covers everything)."""
    grown = mask.filter(ImageFilter.MaxFilter(2 * width + 1))
    ring = (np.asarray(grown) > 0) & (np.asarray(mask) == 0)
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    chosen = pixels[ring.reshape(-1)] if ring.any() else pixels
    return tuple(int(c) for c in np.median(chosen, axis=0))  # type: ignore[return-value]


def apply_guide(image: Image.Image, mask: Image.Image, guide: Guide,
                palette: dict[str, RGB] | None = None) -> Image.Image:
    """The image with the guide painted inside the hard mask (255 = repaint)."""
    out = image.copy()
    bbox = mask.getbbox()
    if bbox is None:
        return out
    if guide.background is not None:
        fill = surrounding_colour(image, mask) if guide.background == SURROUNDINGS else \
            resolve_colour(guide.background, palette)
        out.paste(Image.new("RGB", out.size, fill), mask=mask)
    if guide.colour is not None:
        w, h = out.size
        if guide.box is not None:
            b = guide.box
            x0, y0, x1, y1 = b.x0 * w, b.y0 * h, b.x1 * w, b.y1 * h
        else:
            x0, y0, x1, y1 = bbox
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rx, ry = (x1 - x0) * guide.size / 2, (y1 - y0) * guide.size / 2
        blob = Image.new("L", out.size, 0)
        ImageDraw.Draw(blob).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
        # Only inside the mask: what lies outside is pasted back from the original anyway.
        blob = ImageChops.darker(blob, mask.convert("L"))
        out.paste(Image.new("RGB", out.size, resolve_colour(guide.colour, palette)), mask=blob)
    return out


def compose_sketch(sketch: dict, size: tuple[int, int], palette: dict[str, RGB] | None = None) -> Image.Image:
    """A rough picture of a planned layout, to start an img2img from: the background colour, and an
    ellipse of each object's colour filling ``size`` of its box (normalised), softened so the model
    reads it as a place and a colour, not as a finished shape.
    ``sketch``: {"background": colour, "blobs": [{"colour": ..., "box": [x0, y0, x1, y1], "size": 0..1}]}."""
    w, h = size
    out = Image.new("RGB", size, resolve_colour(sketch.get("background") or "white", palette))
    for blob in sketch.get("blobs", []):
        if blob.get("colour") is None:
            continue
        x0, y0, x1, y1 = blob["box"]
        cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
        rx, ry = (x1 - x0) * w * blob.get("size", 0.8) / 2, (y1 - y0) * h * blob.get("size", 0.8) / 2
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
        out.paste(Image.new("RGB", size, resolve_colour(blob["colour"], palette)), mask=mask.filter(
            ImageFilter.GaussianBlur(max(1.0, min(w, h) / 64))))
    return out
