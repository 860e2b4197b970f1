"""Load a diffusers checkpoint from a local folder, a single file or a hub id, once.

Families (SD 1.x/2.x, SDXL, SD3, Flux, ...) are resolved by diffusers' AutoPipeline from the
checkpoint's own model_index.json, so nothing here is specific to one family.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from tools.engine.records import ModelIdentity
from tools.errors import InputError, ModelLoadError
from tools.fingerprint import fingerprint

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin")
# diffusers 0.40 renamed from_pretrained's `torch_dtype` to `dtype`; both are still read there.
_DTYPE_KWARG = "dtype"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _hub_revision(pipe) -> str:
    """The commit of a hub snapshot, read from the cache path diffusers loaded from."""
    path = Path(getattr(pipe.config, "_name_or_path", "") or "")
    parts = path.parts
    if "snapshots" in parts:
        return parts[parts.index("snapshots") + 1]
    return "unknown"


def _looks_like_hub_id(source: str) -> bool:
    return source.count("/") == 1 and not source.startswith((".", "/", "~")) and not Path(source).exists()


def load_text2image(source: str | Path, dtype: torch.dtype, revision: str | None = None,
                    variant: str | None = None, config: str | None = None):
    """Load the text-to-image pipeline that all other tasks are derived from.

    Returns (pipeline, identity). Raises ModelLoadError with the fix when the checkpoint is missing.
    """
    from diffusers import AutoPipelineForText2Image

    src = str(source)
    path = Path(src).expanduser()
    kwargs = {_DTYPE_KWARG: dtype}
    if variant:
        kwargs["variant"] = variant
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"{path} is a folder but not a diffusers checkpoint (no model_index.json). Point --model at "
                "the folder that holds model_index.json, unet/, vae/ ..., or at a single .safetensors file")
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(path, **kwargs)
        except Exception as exc:  # diffusers raises many types; all mean the same to the user
            raise ModelLoadError(f"could not load the checkpoint in {path}: {exc}") from exc
        return pipe, ModelIdentity(src, "folder", fingerprint(path), type(pipe).__name__)
    if path.suffix in SINGLE_FILE_SUFFIXES:
        if not path.is_file():
            raise ModelLoadError(f"checkpoint file {path} does not exist; check the path given to --model")
        return _load_single_file(path, kwargs, config)
    if not _looks_like_hub_id(src):
        raise ModelLoadError(
            f"model {src!r} is neither an existing folder, a checkpoint file ({', '.join(SINGLE_FILE_SUFFIXES)}) "
            "nor a hub id like 'org/name'; check the path given to --model")
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(src, revision=revision, local_files_only=_offline(),
                                                         **kwargs)
    except Exception as exc:
        hint = (" Offline (HF_HUB_OFFLINE=1), a hub id loads only from the local cache: download it on a "
                f"connected machine with `hf download {src}` (or copy a diffusers folder) and pass the "
                "folder's path.") if _offline() else (
                " If this machine has no internet, set HF_HUB_OFFLINE=1 and use a cached copy or a local folder.")
        raise ModelLoadError(f"could not load {src!r} from the Hugging Face Hub: {exc}.{hint}") from exc
    return pipe, ModelIdentity(src, "hub", revision or _hub_revision(pipe), type(pipe).__name__)


# Single-file checkpoints: diffusers recognises the family from the weights' keys.
_SINGLE_FILE_PIPELINES = {
    "v1": "StableDiffusionPipeline", "v2": "StableDiffusionPipeline",
    "xl_base": "StableDiffusionXLPipeline", "xl_refiner": "StableDiffusionXLImg2ImgPipeline",
    "playground-v2-5": "StableDiffusionXLPipeline",
    "inpainting": "StableDiffusionInpaintPipeline", "inpainting_v2": "StableDiffusionInpaintPipeline",
    "xl_inpaint": "StableDiffusionXLInpaintPipeline",
    "sd3": "StableDiffusion3Pipeline", "sd35_medium": "StableDiffusion3Pipeline",
    "sd35_large": "StableDiffusion3Pipeline",
    "flux-dev": "FluxPipeline", "flux-schnell": "FluxPipeline",
}


def _load_single_file(path: Path, kwargs: dict, config: str | None):
    import diffusers
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type, load_single_file_checkpoint

    try:
        checkpoint = load_single_file_checkpoint(str(path), local_files_only=True)
        family = infer_diffusers_model_type(checkpoint)
    except Exception as exc:
        raise ModelLoadError(f"could not read {path} as a diffusion checkpoint: {exc}") from exc
    cls_name = next((v for k, v in _SINGLE_FILE_PIPELINES.items() if family == k or family.startswith(k + "_")),
                    None)
    if cls_name is None:
        raise ModelLoadError(f"{path} looks like a '{family}' checkpoint, which sculpt cannot load from a single "
                             "file; convert it to a diffusers folder and pass that instead")
    cls = getattr(diffusers, cls_name)
    extra = {"config": config} if config else {}
    try:
        pipe = cls.from_single_file(str(path), local_files_only=_offline() or bool(config), **kwargs, **extra)
    except Exception as exc:
        raise ModelLoadError(
            f"could not load the single-file checkpoint {path} ({family}): {exc}. Single files carry no "
            "configs; offline, pass --model-configs with a diffusers folder of the same family "
            "(its model_index.json and component configs)") from exc
    return pipe, ModelIdentity(str(path), "single-file", fingerprint(path), type(pipe).__name__)


def read_model_index(folder: Path) -> dict:
    try:
        return json.loads((folder / "model_index.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {folder / 'model_index.json'}: {exc}") from exc


def require_existing(path: str | Path) -> None:
    if not Path(path).exists():
        raise InputError(f"{path} does not exist")
