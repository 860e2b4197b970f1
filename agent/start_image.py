"""A person's own image as the root of a run: checked, brought to the model's size, stored.

The image is refined toward the brief, so its first step is an edit, not a txt2img. It is resized
to the model's native resolution (its aspect ratio kept, each side a multiple of 8, what every
latent-diffusion VAE needs): a model asked to edit far from the size it was trained at mostly
produces noise.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from agent.store import RunStore
from tools.engine.images import open_image
from tools.errors import InputError

MAX_PIXELS = 40_000_000  # larger files are refused before decoding: a decompression bomb, or a mistake


def fit_to_model(image: Image.Image, native: tuple[int, int]) -> Image.Image:
    """Scale so the long side matches the model's long side; both sides multiples of 8."""
    long_side = max(native)
    scale = long_side / max(image.size)
    w = max(8, round(image.width * scale / 8) * 8)
    h = max(8, round(image.height * scale / 8) * 8)
    return image if (w, h) == image.size else image.resize((w, h), Image.LANCZOS)


def import_start_image(store: RunStore, path: str | Path, engine) -> str:
    """Store the person's image in the run folder; returns its run-relative path."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"the start image {p} does not exist; give the path of a PNG, JPEG or WebP file")
    try:
        with Image.open(p) as probe:
            w, h = probe.size
    except Exception as exc:  # PIL raises many types for a file that is not an image
        raise InputError(f"the start image {p} is not a readable image ({exc}); use a PNG, JPEG or WebP "
                         "file") from None
    if w * h > MAX_PIXELS:
        raise InputError(f"the start image {p} is {w}x{h}; images up to {MAX_PIXELS // 1_000_000} megapixels "
                         "are accepted: scale it down first")
    # A phone photo is stored sideways with an EXIF note saying how to turn it: turned here, so the
    # model edits the picture the person sees.
    image = ImageOps.exif_transpose(open_image(p, convert=True))
    native = getattr(engine, "native_size", image.size)
    fitted = fit_to_model(image, native)
    rel, _ = store.save_image(fitted, {"node": "root", "source": "the person's image", "file": p.name,
                                       "original_size": list(image.size), "size": list(fitted.size)})
    return rel
