"""Image checks at the engine's edge, content hashes and image files."""
from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tools.errors import InputError


def require_rgb(image: object, what: str = "image") -> Image.Image:
    """The engine works in RGB; anything else is refused with the fix, not silently converted."""
    if not isinstance(image, Image.Image):
        raise InputError(f"{what} must be a PIL image, not {type(image).__name__}; "
                         "open files with tools.engine.images.open_image(path)")
    if image.mode != "RGB":
        raise InputError(f"{what} has mode {image.mode}, not RGB; convert it first "
                         f"(image.convert('RGB'), or open_image(path, convert=True))")
    if image.width < 8 or image.height < 8:
        raise InputError(f"{what} is {image.width}x{image.height}; images must be at least 8x8 pixels")
    return image


def open_image(path: str | Path, convert: bool = False) -> Image.Image:
    """Read an image file fully, so a corrupt file fails here with its name, not mid-generation."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"image file {p} does not exist")
    try:
        with Image.open(p) as im:
            im.load()
            img = im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(f"image file {p} is not a readable image ({exc}); re-export it as PNG or JPEG") from exc
    if convert and img.mode != "RGB":
        if img.mode in ("RGBA", "LA", "P"):
            # Composite on white: transparent areas would otherwise turn black.
            rgba = img.convert("RGBA")
            bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(bg, rgba).convert("RGB")
        else:
            img = img.convert("RGB")
    return img


def image_hash(image: Image.Image) -> str:
    """A content hash of the pixels (and size/mode), stable across PNG encoder versions."""
    h = hashlib.sha256()
    h.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()
