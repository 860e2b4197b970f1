"""The engine: txt2img, img2img, inpaint and variations from one loaded set of components.

Derived pipelines come from ``AutoPipelineFor*.from_pipe`` so they share the UNet or transformer,
VAE and text encoders with the base pipeline: one load, one pipeline's memory. What differs between
families (sizes, guidance, negative prompts) is decided in tools/engine/families.py. Every call
builds fresh seeded CPU generators, one per image, so the same seed and parameters give the same
pixels, and returns a :class:`GenerationRecord` with everything needed to make the image again.
A failure inside diffusers or torch leaves a public tool as a ToolError (tools/engine/boundary.py).
Every tool takes an optional ``on_step`` hook: previews while it denoises, and a cancel that stops it
within one step (tools/engine/preview.py); without one a call is unchanged.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from tools.contracts import Region
from tools.engine.boundary import tool_boundary
from tools.engine.checks import (check_count, check_denoising, check_prompt, check_seed, check_steps_guidance,
                                 check_strength)
from tools.engine.device import dtype_name, pick_device, pick_dtype
from tools.engine.families import accepts, family_of
from tools.engine.guides import Guide, apply_guide, as_guide
from tools.engine.images import require_rgb
from tools.engine.loading import load_text2image
from tools.engine.masks import feathered, inpaint_mask, paste_back
from tools.engine.preview import StepHook, call_args
from tools.engine.records import GenerationRecord, ModelIdentity
from tools.engine.schedulers import apply_scheduler
from tools.errors import InputError, UnsupportedTaskError

SETTINGS_FILE = "sculpt.json"  # optional recommended settings shipped inside a checkpoint folder
log = logging.getLogger(__name__)


class Engine:
    """Loads a checkpoint once; serves every image tool from the same components."""

    def __init__(self, pipe, identity: ModelIdentity, device: torch.device, dtype: torch.dtype,
                 cpu_offload: bool = False, steps: int | None = None, guidance: float | None = None,
                 palette: dict[str, tuple[int, int, int]] | None = None):
        self.identity = identity
        self.family = family_of(pipe)
        # The colours this model draws for its colour words (shipped in sculpt.json); guides use them
        # before the CSS names, so a primed region starts in the model's own palette.
        self.palette = dict(palette or {})
        self.device = device
        self.dtype = dtype
        self.cpu_offload = cpu_offload
        self.default_steps = self.family.default_steps if steps is None else steps
        self.default_guidance = self.family.default_guidance if guidance is None else guidance
        self._base = pipe
        self._pipes: dict[str, Any] = {}
        self._warned: set[str] = set()  # inputs already reported as ignored, to warn once per engine
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
        # Unset here and in sculpt.json: the family's own defaults (Flux schnell: 4 steps, no guidance).
        return cls(pipe, identity, dev, dt, cpu_offload=cpu_offload, steps=steps or settings.get("steps"),
                   guidance=guidance if guidance is not None else settings.get("guidance"),
                   palette={k: tuple(v) for k, v in settings.get("palette", {}).items()})

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
        """The size (width, height) the checkpoint's pipeline generates at by default."""
        return self.family.native_size

    # -- tools -----------------------------------------------------------------------------------
    def txt2img(self, prompt: str, negative_prompt: str | None = None, seed: int = 0,
                steps: int | None = None, guidance: float | None = None, width: int | None = None,
                height: int | None = None, on_step: StepHook | None = None) -> GenerationRecord:
        with self._boundary("txt2img", "txt2img"):
            return self._text_batch("txt2img", prompt, negative_prompt, [seed], steps, guidance, width, height,
                                    on_step)

    def img2img(self, image: Image.Image, prompt: str, strength: float, seed: int = 0,
                negative_prompt: str | None = None, steps: int | None = None,
                guidance: float | None = None, on_step: StepHook | None = None) -> GenerationRecord:
        """Redraw an image from a noised copy; the result has the input's size, whatever the family."""
        with self._boundary("img2img", "img2img"):
            return self._image_batch(image, prompt, strength, [seed], negative_prompt, steps, guidance, on_step)

    def inpaint(self, image: Image.Image, prompt: str, region: Region | tuple | dict | None = None,
                mask: Image.Image | None = None, strength: float = 1.0, seed: int = 0,
                feather: float = 2.0, pad: float = 0.02, negative_prompt: str | None = None,
                steps: int | None = None, guidance: float | None = None,
                padding_mask_crop: int | None = None, guide: Guide | dict | None = None,
                on_step: StepHook | None = None) -> GenerationRecord:
        """Repaint a region (normalised box) or mask; pixels outside the feathered mask are kept.

        ``guide`` primes the region with colours before denoising (see tools/engine/guides.py); use
        it with a strength below 1, or the noise erases it."""
        with self._boundary("inpaint", "inpaint"):
            return self._inpaint(image, prompt, region, mask, strength, seed, feather, pad, negative_prompt,
                                 steps, guidance, padding_mask_crop, guide, on_step)

    def variations(self, image: Image.Image | None, prompt: str, n: int, strength: float | None = None,
                   seeds: list[int] | None = None, seed: int = 0, negative_prompt: str | None = None,
                   steps: int | None = None, guidance: float | None = None, width: int | None = None,
                   height: int | None = None, on_step: StepHook | None = None) -> GenerationRecord:
        """n alternatives in one batched call, each from its own seed (img2img at ``strength``, or
        txt2img without an image). How strong is the caller's choice (the agent's policy); there is
        no default here to drift from it."""
        check_count(n, seeds)
        if image is not None and strength is None:
            raise InputError("variations of an image need a strength in (0, 1], e.g. strength=0.35")
        if seeds is None:
            seeds = [int(seed) + i for i in range(n)]
        with self._boundary("variations", "variations-txt" if image is None else "img2img"):
            if image is None:
                rec = self._text_batch("variations-txt", prompt, negative_prompt, seeds, steps, guidance, width,
                                       height, on_step)
            else:
                rec = self._image_batch(image, prompt, strength, seeds, negative_prompt, steps, guidance, on_step)
        rec.task = "variations"
        rec.params["source"] = "txt2img" if image is None else "img2img"
        return rec

    # -- shared machinery -----------------------------------------------------------------------------
    def _boundary(self, tool: str, task: str):
        def pipeline_name() -> str:
            pipe = self._pipes.get(task, self._base if task in ("txt2img", "variations-txt") else None)
            return type(pipe).__name__ if pipe is not None else f"{self.identity.pipeline} (deriving {task})"

        return tool_boundary(tool, pipeline_name)

    def _steps_guidance(self, steps: int | None, guidance: float | None) -> tuple[int, float]:
        return check_steps_guidance(self.default_steps if steps is None else steps,
                                    self.default_guidance if guidance is None else guidance)

    def _text_batch(self, task, prompt, negative_prompt, seeds, steps, guidance, width, height, on_step=None):
        check_prompt(prompt)
        seeds = [check_seed(s) for s in seeds]
        steps, guidance = self._steps_guidance(steps, guidance)
        w, h = self.native_size
        width, height = width or w, height or h
        self.family.check_size(width, height)
        pipe = self.pipeline(task)
        args, ignored = self.family.call_args(pipe, negative_prompt, guidance)
        t0 = time.perf_counter()
        with torch.inference_mode():
            images = pipe(prompt=prompt, num_inference_steps=steps, width=width, height=height,
                          num_images_per_prompt=len(seeds), generator=_generators(seeds), **args,
                          **call_args(on_step)).images
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "steps": steps, "guidance": guidance,
                  "width": width, "height": height, **self._scheduler_param("txt2img")}
        return self._record(task, images, seeds, params, time.perf_counter() - t0, ignored)

    def _image_batch(self, image, prompt, strength, seeds, negative_prompt, steps, guidance, on_step=None):
        image = require_rgb(image)
        check_prompt(prompt)
        strength = check_strength(strength)
        steps, guidance = self._steps_guidance(steps, guidance)
        check_denoising(strength, steps)
        seeds = [check_seed(s) for s in seeds]
        pipe = self.pipeline("img2img")
        work = self.family.work_size(image.size)
        init = image if work == image.size else image.resize(work, Image.Resampling.LANCZOS)
        # Without an explicit size Flux and SD3 fall back to their native size, not the image's.
        size = {"width": work[0], "height": work[1]} if accepts(pipe, "height") else {}
        args, ignored = self.family.call_args(pipe, negative_prompt, guidance)
        t0 = time.perf_counter()
        with torch.inference_mode():
            # One copy of the image per generator: SD3 cannot spread one image over n generators, and
            # Flux would encode it with the first generator only, so an image made in a batch would
            # differ from the same seed made alone.
            images = pipe(prompt=prompt, image=[init] * len(seeds), strength=strength, num_inference_steps=steps,
                          num_images_per_prompt=len(seeds), generator=_generators(seeds), **size, **args,
                          **call_args(on_step)).images
        images = [im if im.size == image.size else im.resize(image.size, Image.Resampling.LANCZOS) for im in images]
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength, "steps": steps,
                  "guidance": guidance, "width": image.width, "height": image.height,
                  **_work_size_param(work, image.size), **self._scheduler_param("img2img")}
        return self._record("img2img", images, seeds, params, time.perf_counter() - t0, ignored)

    def _inpaint(self, image, prompt, region, mask, strength, seed, feather, pad, negative_prompt, steps,
                 guidance, padding_mask_crop, guide, on_step=None):
        image = require_rgb(image)
        check_prompt(prompt)
        strength = check_strength(strength)
        steps, guidance = self._steps_guidance(steps, guidance)
        check_denoising(strength, steps)
        seed = check_seed(seed)
        if feather < 0:
            raise InputError(f"feather must be >= 0 pixels, got {feather}")
        hard, where = inpaint_mask(image, region, mask, pad)
        guide = as_guide(guide) if guide is not None else None
        init = apply_guide(image, hard, guide, self.palette) if guide is not None else image
        if guide is not None:
            where["guide"] = guide.describe()
        pipe = self.pipeline("inpaint")
        work = self.family.work_size(image.size)
        size = {"width": work[0], "height": work[1]} if accepts(pipe, "height") else {}
        crop = {"padding_mask_crop": padding_mask_crop} if padding_mask_crop else {}
        args, ignored = self.family.call_args(pipe, negative_prompt, guidance)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = pipe(prompt=prompt, image=init, mask_image=hard, strength=strength, num_inference_steps=steps,
                       generator=_generators([seed]), **size, **crop, **args, **call_args(on_step)).images[0]
        soft = feathered(hard, feather)
        result = paste_back(image, out, soft)  # also scales a work-size result back to the input's size
        params = {"prompt": prompt, "negative_prompt": negative_prompt, "strength": strength, "steps": steps,
                  "guidance": guidance, "feather": feather, "width": image.width, "height": image.height,
                  "padding_mask_crop": padding_mask_crop, **where, **_work_size_param(work, image.size),
                  **self._scheduler_param("inpaint")}
        return self._record("inpaint", [result], [seed], params, time.perf_counter() - t0, ignored,
                            extras={"mask": hard, "soft_mask": soft})

    def _scheduler_param(self, task: str) -> dict[str, str]:
        pipe = self._base if task in ("txt2img", "variations-txt") else self._pipes.get(task, self._base)
        return {"scheduler": type(pipe.scheduler).__name__}

    def _record(self, task, images, seeds, params, elapsed, ignored, extras=None) -> GenerationRecord:
        if ignored:
            # Recorded on every call that ignored something; logged once per engine, not per call.
            params["ignored"] = dict(ignored)
            for what, why in ignored.items():
                if what not in self._warned:
                    self._warned.add(what)
                    log.warning("%s ignored: %s", what, why)
        return GenerationRecord(task=task, images=list(images), seeds=list(seeds), params=params,
                                model=self.identity, device=str(self.device), dtype=dtype_name(self.dtype),
                                wall_time=elapsed, extras=extras or {})


def _generators(seeds: list[int]) -> list[torch.Generator]:
    # CPU generators: the same seed gives the same noise on every device (diffusers' own advice).
    return [torch.Generator("cpu").manual_seed(s) for s in seeds]


def _work_size_param(work: tuple[int, int], size: tuple[int, int]) -> dict[str, list[int]]:
    # Recorded only when the family's multiple forced a different denoising size than the image's.
    return {} if work == size else {"work_size": list(work)}


def _shipped_settings(model: str | Path) -> dict:
    path = Path(str(model)).expanduser() / SETTINGS_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}
