"""Watching an image while it denoises, and stopping it: the hook a caller (the studio) gives a tool.

With a :class:`StepHook`, the engine hands diffusers a ``callback_on_step_end`` that runs after every
denoising step: it stops the call when the hook was cancelled (:class:`tools.errors.Cancelled`, within
one step: nothing half-made is returned) and, every ``every`` steps, decodes a preview of the latents
for the hook's listener. Without a hook a call is exactly what it was.

A preview must cost little beside the image, so it is the cheapest picture of the latents there is:
- the standard SD 1.x/2.x and SDXL autoencoders: a linear map from the four latent channels to RGB
  (the approximation A1111 and ComfyUI show), no decoder pass, upscaled to the image's size: about a
  millisecond, always shown;
- any other autoencoder (the shapes model's own small one): its decoder, on the latents as they are —
  about as dear as a denoising step there, so decoded only while the previews of this image stay
  within ``share`` of its time so far (an image made in a blink is shown whole, without previews);
- latents packed into tokens (Flux): no preview, only the cancel.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from tools.errors import Cancelled

# Latent channel -> RGB for the autoencoders SD 1.x/2.x and SDXL ship, known by their scaling factor
# (the factors ComfyUI's latent previews use; rows are the 4 channels, columns R, G, B).
LINEAR = {
    0.18215: ([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
               [-0.2120, -0.2616, -0.7177]], [0.0, 0.0, 0.0]),
    0.13025: ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
               [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011]),
}
PREVIEWS_PER_IMAGE = 6  # at most this many previews an image, whatever the number of steps
SHARE = 0.05  # decoded previews may take this share of an image's time


@dataclass
class StepHook:
    """What a caller hears while a tool denoises (``on_preview(image, step, steps)``, the first image of a
    batch) and how it stops the tool (``cancel()``, from any thread). ``every``: steps between previews
    (None: about PREVIEWS_PER_IMAGE per image); ``share``: the most of an image's time decoded
    previews may take (None: no limit)."""

    on_preview: Callable[[Image.Image, int, int], None] | None = None
    every: int | None = None
    share: float | None = SHARE
    _cancel: threading.Event = field(default_factory=threading.Event)
    seconds: float = 0.0  # spent making previews, for whoever measures what they cost
    previews: int = 0

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def reset(self) -> None:
        """Ready for the next image (a cancel applies to the image it was given for)."""
        self._cancel.clear()


def call_args(hook: StepHook | None) -> dict:
    """The keyword arguments that give a diffusers pipeline call this hook (none without one)."""
    if hook is None:
        return {}
    start, spent, last = time.perf_counter(), [0.0], [None]  # this image's clock and previews

    def on_step_end(pipe, i: int, t, kwargs: dict) -> dict:
        if hook.cancelled:
            raise Cancelled("the image was cancelled before it was finished")
        total = int(getattr(pipe, "_num_timesteps", 0) or 0)
        every = hook.every or max(1, round(total / PREVIEWS_PER_IMAGE)) if total else hook.every or 1
        done = i + 1
        if hook.on_preview is None or done >= total or done % every:
            return kwargs
        elapsed = time.perf_counter() - start
        # A linear preview costs next to nothing; a decoder pass about a step, until one is measured.
        decoded = linear_factors(pipe, kwargs["latents"]) is None
        cost = (last[0] if last[0] is not None else elapsed / done) if decoded else 0.0
        if decoded and hook.share is not None and spent[0] + cost > hook.share * elapsed:
            return kwargs
        t0 = time.perf_counter()
        image = preview(pipe, kwargs["latents"])
        if image is not None:
            hook.on_preview(image, done, total)
            hook.previews += 1
        last[0] = time.perf_counter() - t0
        spent[0] += last[0]
        hook.seconds += last[0]
        return kwargs

    return {"callback_on_step_end": on_step_end, "callback_on_step_end_tensor_inputs": ["latents"]}


def linear_factors(pipe, latents: torch.Tensor):
    """The linear latent-to-RGB map for this pipeline's autoencoder, or None where it has none."""
    vae = getattr(pipe, "vae", None)
    if vae is None or latents.ndim != 4 or latents.shape[1] != 4:
        return None
    scale = float(getattr(vae.config, "scaling_factor", 0) or 0)
    return next((v for k, v in LINEAR.items() if abs(k - scale) < 1e-4), None)


@torch.no_grad()
def preview(pipe, latents: torch.Tensor) -> Image.Image | None:
    """A cheap picture of the first image of a batch of latents, at the size the pipeline makes."""
    if latents.ndim != 4:  # packed into tokens
        return None
    vae = getattr(pipe, "vae", None)
    if vae is None:
        return None
    first = latents[:1].float()
    scale = float(getattr(vae.config, "scaling_factor", 0) or 0)
    known = linear_factors(pipe, latents)
    if known is not None:
        factors, bias = (torch.tensor(x, dtype=first.dtype, device=first.device) for x in known)
        rgb = torch.einsum("bchw,cr->brhw", first, factors) + bias[None, :, None, None]
        factor = int(getattr(pipe, "vae_scale_factor", 8))
        size = (first.shape[3] * factor, first.shape[2] * factor)
    else:
        shift = float(getattr(vae.config, "shift_factor", 0) or 0)
        rgb = vae.decode((first / (scale or 1) + shift).to(vae.dtype)).sample.float()
        size = None
    pixels = ((rgb[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return image.resize(size, Image.Resampling.BILINEAR) if size else image
