"""The engine: txt2img, img2img, inpaint and variations from one loaded set of components.

Derived pipelines come from ``AutoPipelineFor*.from_pipe`` so they share the UNet, VAE and text
encoder with the base pipeline: one load, one pipeline's memory. Every call builds fresh seeded
CPU generators, so the same seed and parameters give the same pixels, and returns a
:class:`GenerationRecord` with everything needed to make the image again.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from tools.contracts import Region
from tools.engine.device import dtype_name, pick_device, pick_dtype
from tools.engine.guides import Guide, apply_guide, as_guide
from tools.engine.images import require_rgb
from tools.engine.loading import load_text2image
from tools.engine.masks import as_region, check_mask, feathered, paste_back, region_mask
from tools.engine.records import GenerationRecord, ModelIdentity
from tools.engine.schedulers import apply_scheduler
from tools.errors import InputError, UnsupportedTaskError

TASKS = ("txt2img", "img2img", "inpaint", "variations")
MAX_SEED = 2**63 - 1
SETTINGS_FILE = "sculpt.json"  # optional recommended settings shipped inside a checkpoint folder


class Engine:
    """Loads a checkpoint once; serves every image tool from the same components."""

    def __init__(self, pipe, identity: ModelIdentity, device: torch.device, dtype: torch.dtype,
                 cpu_offload: bool = False, steps: int = 30, guidance: float = 7.0,
                 palette: dict[str, tuple[int, int, int]] | None = None):
        self.identity = identity
        # The colours this model draws for its colour words (shipped in sculpt.json); guides use them
        # before the CSS names, so a primed region starts in the model's own palette.
        self.palette = dict(palette or {})
        self.device = device
        self.dtype = dtype
        self.cpu_offload = cpu_offload
        self.default_steps = steps
        self.default_guidance = guidance
        self._base = pipe
        self._pipes: dict[str, Any] = {}
        self._prepare(pipe)
        unet = getattr(pipe, "unet", None)
        # A 9-channel UNet takes (latents, mask, masked-image latents): an inpainting checkpoint.
        self.is_inpainting_checkpoint = bool(unet is not None and unet.config.in_channels == 9)

    # -- loading -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, model: str | Path, *, device: str | None = None, dtype: str | torch.dtype | None = None,
             cpu_offload: bool = False, revision: str | None = None, variant: str | None = None,
             scheduler: str | None = None, config: str | None = None, steps: int | None = None,
             guidance: float | None = None) -> "Engine":
        dev = pick_device(device)
        dt = pick_dtype(dev, dtype)
        if cpu_offload and dev.type == "cpu":
            raise InputError("CPU offload moves models between the GPU and the CPU; on a CPU-only machine "
                             "there is nothing to offload: drop --cpu-offload")
        pipe, identity = load_text2image(model, dt, revision=revision, variant=variant, config=config)
        if scheduler:
            apply_scheduler(pipe, scheduler)
        settings = _shipped_settings(model)
        engine = cls(pipe, identity, dev, dt, cpu_offload=cpu_offload,
                     steps=steps or settings.get("steps", 30),
                     guidance=guidance if guidance is not None else settings.get("guidance", 7.0),
                     palette={k: tuple(v) for k, v in settings.get("palette", {}).items()})
        return engine

    def _prepare(self, pipe) -> None:
        pipe.set_progress_bar_config(disable=True)
        if self.cpu_offload:
            # Offload hooks belong to a pipeline object, so each derived pipeline needs its own.
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)

    def pipeline(self, task: str):
        """The diffusers pipeline for a task, derived from the base one on first use."""
        if task in ("txt2img", "variations-txt"):
            if self.is_inpainting_checkpoint:
                raise UnsupportedTaskError(
                    f"{self.identity.source} is an inpainting checkpoint (9-channel UNet): it can inpaint but "
                    "not generate from text alone. Load a text-to-image checkpoint for txt2img and variations")
            return self._base
        if task in self._pipes:
            return self._pipes[task]
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

        if task == "img2img" and self.is_inpainting_checkpoint:
            raise UnsupportedTaskError(f"{self.identity.source} is an inpainting checkpoint; img2img needs a "
                                       "text-to-image checkpoint")
        auto = {"img2img": AutoPipelineForImage2Image, "inpaint": AutoPipelineForInpainting}[task]
        try:
            pipe = auto.from_pipe(self._base)
        except (ValueError, KeyError) as exc:
            raise UnsupportedTaskError(f"{self.identity.pipeline} has no {task} pipeline in diffusers, so "
                                       f"{self.identity.source} cannot {task}: {exc}") from exc
        self._prepare(pipe)
        self._pipes[task] = pipe
        return pipe

    @property
    def native_size(self) -> tuple[int, int]:
        """The resolution the model was trained at (width, height)."""
        unet = getattr(self._base, "unet", None) or getattr(self._base, "transformer", None)
        factor = getattr(self._base, "vae_scale_factor", 8)
        side = int(getattr(unet.config, "sample_size", 64)) * factor if unet is not None else 512
        return side, side

    # -- tools -----------------------------------------------------------------------------------
    def txt2img(self, prompt: str, negative_prompt: str | None = None, seed: int = 0,
                steps: int | None = None, guidance: float | None = None, width: int | None = None,
                height: int | None = None) -> GenerationRecord:
        return self._text_batch("txt2img", prompt, negative_prompt, [seed], steps, guidance, width, height)

    def img2img(self, image: Image.Image, prompt: str, strength: float, seed: int = 0,
                negative_prompt: str | None = None, steps: int | None = None,
                guidance: float | None = None) -> GenerationRecord:
        return self._image_batch("img2img", image, prompt, strength, [seed], negative_prompt, steps, guidance)

    def inpaint(self, image: Image.Image, prompt: str, region: Region | tuple | dict | None = None,
                mask: Image.Image | None = None, strength: float = 1.0, seed: int = 0,
                feather: float = 2.0, pad: float = 0.02, negative_prompt: str | None = None,
                steps: int | None = None, guidance: float | None = None,
                padding_mask_crop: int | None = None, guide: Guide | dict | None = None) -> GenerationRecord:
        """Repaint a region (normalised box) or mask; pixels outside the feathered mask are kept.

        ``guide`` primes the region with colours before denoising (see tools/engine/guides.py); use
        it with a strength below 1, or the noise erases it."""
        image = require_rgb(image)
        _check_prompt(prompt)
        strength = _check_strength(strength)
        steps, guidance = self._steps_guidance(steps, guidance)
        _check_denoising(strength, steps)
        seed = _check_seed(seed)
        if feather < 0:
            raise InputError(f"feather must be >= 0 pixels, got {feather}")
        if not 0 <= pad < 0.5:
            raise InputError(f"pad must be in [0, 0.5) of the image side, got {pad}")
        if (region is None) == (mask is None):
            raise InputError("inpaint needs exactly one of region (a normalised box) or mask (an image)")
        if region is not None:
            reg = as_region(region)
            hard = region_mask(reg, image.size, pad)
            where: dict[str, Any] = {"region": list(reg.as_tuple()), "pad": pad}
        else:
            hard = check_mask(mask, image)
            from tools.engine.images import image_hash

            where = {"mask_sha256": image_hash(hard)[:16]}
        guide = as_guide(guide) if guide is not None else None
        init = apply_guide(image, hard, guide, self.palette) if guide is not None else image
        if guide is not None:
            where["guide"] = guide.describe()
        pipe = self.pipeline("inpaint")
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = pipe(prompt=prompt, negative_prompt=negative_prompt, image=init, mask_image=hard,
                       strength=strength, num_inference_steps=steps, guidance_scale=guidance,
                       generator=_generators([seed]), height=image.height, width=image.width,
                       **({"padding_mask_crop": padding_mask_crop} if padding_mask_crop else {})).images[0]
        soft = feathered(hard, feather)
        result = paste_back(image, out, soft)
        elapsed = time.perf_counter() - t0
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength, "steps": steps,
                  "guidance": guidance, "feather": feather, "width": image.width, "height": image.height,
                  "padding_mask_crop": padding_mask_crop, **where, **self._scheduler_param("inpaint")}
        return self._record("inpaint", [result], [seed], params, elapsed,
                            extras={"mask": hard, "soft_mask": soft})

    def variations(self, image: Image.Image | None, prompt: str, n: int, strength: float = 0.35,
                   seeds: list[int] | None = None, seed: int = 0, negative_prompt: str | None = None,
                   steps: int | None = None, guidance: float | None = None, width: int | None = None,
                   height: int | None = None) -> GenerationRecord:
        """n alternatives in one batched call, each from its own seed (img2img, or txt2img without image)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InputError(f"n must be a whole number >= 1, got {n!r}")
        if seeds is None:
            seeds = [int(seed) + i for i in range(n)]
        elif len(seeds) != n:
            raise InputError(f"got {len(seeds)} seeds for n={n} variations; give one seed per variation")
        if image is None:
            rec = self._text_batch("variations-txt", prompt, negative_prompt, seeds, steps, guidance, width,
                                   height)
        else:
            rec = self._image_batch("img2img", image, prompt, strength, seeds, negative_prompt, steps, guidance)
        rec.task = "variations"
        rec.params["source"] = "txt2img" if image is None else "img2img"
        return rec

    # -- shared machinery -----------------------------------------------------------------------------
    def _steps_guidance(self, steps: int | None, guidance: float | None) -> tuple[int, float]:
        steps = self.default_steps if steps is None else steps
        guidance = self.default_guidance if guidance is None else guidance
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise InputError(f"steps must be a whole number >= 1, got {steps!r}")
        if not isinstance(guidance, (int, float)) or guidance < 0:
            raise InputError(f"guidance must be a number >= 0, got {guidance!r}")
        return steps, float(guidance)

    def _text_batch(self, task, prompt, negative_prompt, seeds, steps, guidance, width, height):
        _check_prompt(prompt)
        seeds = [_check_seed(s) for s in seeds]
        steps, guidance = self._steps_guidance(steps, guidance)
        w, h = self.native_size
        width, height = width or w, height or h
        factor = getattr(self._base, "vae_scale_factor", 8)
        for name, v in (("width", width), ("height", height)):
            if not isinstance(v, int) or v < factor or v % factor:
                raise InputError(f"{name} must be a positive multiple of {factor} for this model, got {v!r}")
        pipe = self.pipeline(task)
        t0 = time.perf_counter()
        with torch.inference_mode():
            images = pipe(prompt=prompt, negative_prompt=negative_prompt, num_inference_steps=steps,
                          guidance_scale=guidance, width=width, height=height,
                          num_images_per_prompt=len(seeds), generator=_generators(seeds)).images
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "steps": steps, "guidance": guidance,
                  "width": width, "height": height, **self._scheduler_param("txt2img")}
        return self._record("txt2img" if task == "txt2img" else task, images, seeds, params,
                            time.perf_counter() - t0)

    def _image_batch(self, task, image, prompt, strength, seeds, negative_prompt, steps, guidance):
        image = require_rgb(image)
        _check_prompt(prompt)
        strength = _check_strength(strength)
        steps, guidance = self._steps_guidance(steps, guidance)
        _check_denoising(strength, steps)
        seeds = [_check_seed(s) for s in seeds]
        pipe = self.pipeline(task)
        t0 = time.perf_counter()
        with torch.inference_mode():
            images = pipe(prompt=prompt, negative_prompt=negative_prompt, image=image, strength=strength,
                          num_inference_steps=steps, guidance_scale=guidance,
                          num_images_per_prompt=len(seeds), generator=_generators(seeds)).images
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength, "steps": steps,
                  "guidance": guidance, "width": image.width, "height": image.height,
                  **self._scheduler_param(task)}
        return self._record(task, images, seeds, params, time.perf_counter() - t0)

    def _scheduler_param(self, task: str) -> dict[str, str]:
        pipe = self._base if task in ("txt2img", "variations-txt") else self._pipes.get(task, self._base)
        return {"scheduler": type(pipe.scheduler).__name__}

    def _record(self, task, images, seeds, params, elapsed, extras=None) -> GenerationRecord:
        return GenerationRecord(task=task, images=list(images), seeds=list(seeds), params=params,
                                model=self.identity, device=str(self.device), dtype=dtype_name(self.dtype),
                                wall_time=elapsed, extras=extras or {})


def _generators(seeds: list[int]) -> list[torch.Generator]:
    # CPU generators: the same seed gives the same noise on every device (diffusers' own advice).
    return [torch.Generator("cpu").manual_seed(s) for s in seeds]


def _check_prompt(prompt: object) -> None:
    if not isinstance(prompt, str):
        raise InputError(f"prompt must be text, not {type(prompt).__name__}")


def _check_seed(seed: object) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    return seed


def _check_strength(strength: object) -> float:
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0 < strength <= 1:
        raise InputError(f"strength must be in (0, 1] (0.3-0.6 keeps the layout, 0.75+ rebuilds it), "
                         f"got {strength!r}")
    return float(strength)


def _check_denoising(strength: float, steps: int) -> None:
    # diffusers runs int(steps * strength) denoising steps; zero would return the input unchanged.
    if int(steps * strength) < 1:
        raise InputError(f"strength {strength:g} with {steps} steps runs no denoising step "
                         f"(int({steps} x {strength:g}) = 0); raise strength to at least {1 / steps:.3g} "
                         f"or steps to at least {int(1 / strength) + 1}")


def _shipped_settings(model: str | Path) -> dict:
    path = Path(str(model)).expanduser() / SETTINGS_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}
