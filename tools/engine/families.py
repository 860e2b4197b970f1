"""What differs between diffusers families (SD 1.x/2.x, SDXL, SD3, Flux), decided in one place.

The engine asks the :class:`Family` of its base pipeline for the native size, the multiple that
sizes must be, default steps and guidance, the size to run an input image at, and the keyword
arguments that carry guidance and a negative prompt to a call. Inputs a pipeline would not use are
returned with the reason, so the engine can record them instead of dropping them silently.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tools.errors import InputError

CFG = "cfg"  # classifier-free guidance: an unconditional pass, which is where a negative prompt goes
EMBEDDED = "embedded"  # guidance-distilled (Flux dev): the scale is an input of the transformer
NO_GUIDANCE = "none"  # timestep-distilled (Flux schnell): neither guidance nor a second pass
# Flux could take a negative prompt only through diffusers' "true CFG" (true_cfg_scale > 1), a second
# transformer pass per step that the distilled models were not trained for; sculpt does not use it.
_FLUX_NEGATIVE = ("{name} takes no negative prompt: Flux is guidance-distilled and sculpt does not run "
                  "diffusers' true-CFG pass (true_cfg_scale), which would double the cost")


@dataclass(frozen=True)
class Family:
    name: str  # sd | sdxl | sd3 | flux | other
    native_size: tuple[int, int]  # (width, height) the pipeline generates at when given no size
    multiple: int  # width and height must be multiples of this (VAE factor x patching, or the pipeline's check)
    guidance: str  # CFG | EMBEDDED | NO_GUIDANCE
    default_steps: int
    default_guidance: float
    extra: dict[str, Any] = field(default_factory=dict)  # fixed keyword arguments for every call
    vae_multiple: int = 0  # what the VAE and patching alone need, when the pipeline asks for more

    def check_size(self, width: object, height: object) -> None:
        for name, v in (("width", width), ("height", height)):
            if not isinstance(v, int) or isinstance(v, bool) or v < self.multiple or v % self.multiple:
                why = (f" (its pipelines check for multiples of {self.multiple}; the VAE alone needs a multiple of "
                       f"{self.vae_multiple})") if self.vae_multiple else ""
                raise InputError(f"{name} must be a positive multiple of {self.multiple} for this model{why}, "
                                 f"got {v!r}")

    def work_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size an input image is denoised at: each side rounded down to the family's multiple,
        as diffusers' own image processors do (the engine scales the result back to the input size)."""
        m = self.multiple
        return max(m, size[0] // m * m), max(m, size[1] // m * m)

    def call_args(self, pipe, negative_prompt: str | None, guidance: float) -> tuple[dict, dict[str, str]]:
        """Keyword arguments carrying guidance and the negative prompt to ``pipe``, and what it will not use."""
        name = type(pipe).__name__
        kwargs: dict[str, Any] = {"guidance_scale": guidance, **self.extra}
        ignored: dict[str, str] = {}
        if self.guidance != CFG:
            if negative_prompt:
                ignored["negative_prompt"] = _FLUX_NEGATIVE.format(name=name)
            if self.guidance == NO_GUIDANCE and guidance:
                ignored["guidance"] = (f"{name} with a timestep-distilled transformer (guidance_embeds=False, "
                                       f"schnell-like) has no guidance; guidance {guidance:g} has no effect")
            return kwargs, ignored
        if not accepts(pipe, "negative_prompt"):
            if negative_prompt:
                ignored["negative_prompt"] = f"{name} takes no negative prompt"
            return kwargs, ignored
        kwargs["negative_prompt"] = negative_prompt
        if negative_prompt and guidance <= 1:
            ignored["negative_prompt"] = (f"guidance {guidance:g} <= 1 turns classifier-free guidance off in {name}, "
                                          "so the negative prompt has no effect")
        return kwargs, ignored


def family_of(pipe) -> Family:
    """The family of a loaded text-to-image (or inpainting) pipeline, read from its class and configs."""
    cls = type(pipe).__name__
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    config = getattr(denoiser, "config", None)
    native = _native_size(pipe, config, factor)
    if cls.startswith("Flux"):
        # Flux packs 2x2 latent patches into one token, so sizes are multiples of twice the VAE factor.
        if getattr(config, "guidance_embeds", False):
            return Family("flux", native, factor * 2, EMBEDDED, 28, 3.5)
        # schnell was distilled with 256 T5 tokens; diffusers' default of 512 pads past what it saw.
        return Family("flux", native, factor * 2, NO_GUIDANCE, 4, 0.0, {"max_sequence_length": 256})
    multiple = factor * int(getattr(config, "patch_size", 1) or 1)
    if cls.startswith("StableDiffusion3"):
        return Family("sd3", native, multiple, CFG, 28, 7.0)
    if cls.startswith("StableDiffusion"):
        # SD and SDXL txt2img and inpaint pipelines refuse sizes that are not multiples of 8, whatever
        # the VAE: the same for real checkpoints (factor 8), stricter for small test VAEs.
        checked = math.lcm(8, multiple)
        return Family("sdxl" if cls.startswith("StableDiffusionXL") else "sd", native, checked, CFG, 30, 7.0,
                      vae_multiple=multiple if checked != multiple else 0)
    return Family("other", native, multiple, CFG, 30, 7.0)


def _native_size(pipe, config, factor: int) -> tuple[int, int]:
    # The pipeline's own default first: SDXL, SD3 and Flux keep it in default_sample_size (Flux's
    # transformer has no sample_size at all); SD 1.x/2.x read the UNet's sample_size in __call__.
    sample = getattr(pipe, "default_sample_size", None) or getattr(config, "sample_size", None)
    if sample is None:
        return 512, 512
    if isinstance(sample, (list, tuple)):  # (height, width) latents
        return int(sample[1]) * factor, int(sample[0]) * factor
    return int(sample) * factor, int(sample) * factor


def accepts(pipe, argument: str) -> bool:
    """Whether a pipeline's __call__ takes ``argument`` (img2img pipelines of SD/SDXL take no size)."""
    return argument in _call_parameters(type(pipe))


@lru_cache(maxsize=None)
def _call_parameters(cls) -> frozenset[str]:
    return frozenset(inspect.signature(cls.__call__).parameters)
