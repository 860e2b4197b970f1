"""Images as chat-message parts: RGB PNG data URLs, downscaled to a long side before sending.

PNG rather than JPEG because critics judge colours and edges, and a lossless image means the
model (and the test server) sees exactly the pixels the agent made. Images are never upscaled:
that would cost tokens and add nothing.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

from agent.vlm.regions import model_family
from tools.errors import InputError

# Model families whose vision encoders work on patches of this many pixels; sending sizes that
# are already multiples keeps the server from resizing again, so pixel boxes stay exact.
_FAMILY_MULTIPLE = {"qwen2-vl": 28, "qwen2.5-vl": 28, "qwen3-vl": 32}


@dataclass(frozen=True)
class SentImage:
    """An image as sent: its data URL and the size the model sees (boxes in pixels refer to it)."""

    url: str
    size: tuple[int, int]


def family_multiple(model: str) -> int:
    return _FAMILY_MULTIPLE.get(model_family(model) or "", 1)


def sent_size(size: tuple[int, int], long_side: int, multiple: int = 1) -> tuple[int, int]:
    """The size an image of ``size`` is sent at: at most ``long_side`` on its long side, aspect kept."""
    w, h = size
    scale = min(1.0, long_side / max(w, h))
    w2, h2 = max(1, round(w * scale)), max(1, round(h * scale))
    if multiple > 1:
        # Round down so the long side stays within the limit, but never below one patch.
        w2, h2 = (max(multiple, (v // multiple) * multiple) for v in (w2, h2))
    return w2, h2


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency flattened onto white (most vision encoders ignore alpha)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def encode(image: Image.Image, long_side: int, multiple: int = 1) -> SentImage:
    """The image as a base64 PNG data URL at its sent size."""
    if not isinstance(image, Image.Image):
        raise InputError(f"expected a PIL image, got {type(image).__name__}")
    if long_side < 1:
        raise InputError(f"image long side must be at least 1 px, got {long_side}")
    rgb = to_rgb(image)
    size = sent_size(rgb.size, long_side, multiple)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", optimize=False)
    return SentImage(url="data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), size=size)


def image_part(sent: SentImage, detail: str) -> dict:
    """A chat-completions content part for one image."""
    return {"type": "image_url", "image_url": {"url": sent.url, "detail": detail}}


def decode(url: str) -> Image.Image:
    """The image in a base64 data URL (the inverse of :func:`encode`; servers and tests use it)."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:image/") or ";base64" not in header:
        raise InputError(f"not a base64 image data URL: {url[:40]!r}...")
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image
