"""Load a transformers model and its processor once per process, from a folder or the hub cache.

The engine's rule holds for critics too: a model is loaded once and shared (the studio's tabs, a
batch worker's briefs), so loads go through one cache keyed by what was loaded, on which device, in
which precision. Nothing is ever downloaded: a hub id must already be in the cache
(``local_files_only``), and a name that is neither a folder nor cached is an InputError that says so.

Every way a folder can be wrong is named in one line: no config, a model of the wrong kind, no
processor; running out of memory while loading is :class:`ModelUnavailable` (exit 4: free memory or
choose another device, then resume).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from agent.vlm.errors import ModelUnavailable
from tools.errors import InputError

_LOADED: dict[tuple, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Kind:
    """What to load: the Auto class, the mapping of model types it accepts, and how to say it."""

    auto_class: str  # e.g. "AutoModelForImageTextToText"
    mapping: str  # the transformers mapping of config types to model classes
    what: str  # "an image-text-to-text model"
    examples: str


IMAGE_TEXT_TO_TEXT = Kind("AutoModelForImageTextToText", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES",
                          "an image-text-to-text model", "Qwen2.5-VL, SmolVLM, Idefics3, PaliGemma, LLaVA")
ZERO_SHOT_DETECTION = Kind("AutoModelForZeroShotObjectDetection", "MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES",
                           "an open-vocabulary object detector", "OWLv2, Grounding DINO, OmDet-Turbo")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def out_of_memory(who: str, device: Any, doing: str) -> ModelUnavailable:
    return ModelUnavailable(f"{who}: out of memory on {device} while {doing}; free memory, or use "
                            "--critic-option dtype=bfloat16 (half the memory of float32) or device=cuda:N / cpu, "
                            "then resume")


def load(kind: Kind, name: str, device: str = "auto", dtype: str = "auto",
         prepare: Callable[[Any, Any], Any] | None = None) -> Any:
    """``prepare(model, processor)`` for the model ``name`` names, loaded once per process per
    (kind, name, device, dtype) and shared; ``prepare`` wraps them in what the caller keeps."""
    from tools.engine.device import dtype_name, pick_device, pick_dtype

    torch_device = pick_device(device)
    torch_dtype = pick_dtype(torch_device, dtype)
    path = resolve(name)
    key = (kind.auto_class, path, str(torch_device), dtype_name(torch_dtype))
    with _LOCK:  # one load at a time: two tabs asking for the same model get one copy
        if key not in _LOADED:
            model, processor = _load(kind, name, path, torch_device, torch_dtype)
            _LOADED[key] = prepare(model, processor) if prepare else (model, processor)
        return _LOADED[key]


def model_type_of(name: str) -> str:
    """The model type a folder or cached hub id declares in its config.json (never downloads)."""
    import transformers

    path = resolve(name)
    try:
        return transformers.AutoConfig.from_pretrained(path, local_files_only=True).model_type
    except (OSError, ValueError) as exc:
        raise InputError(f"{name} has no usable config.json ({_first_line(exc)}); is it a transformers model "
                         "folder?") from None


def accepts(kind: Kind, model_type: str) -> bool:
    from transformers.models.auto import modeling_auto

    return model_type in getattr(modeling_auto, kind.mapping)


def resolve(name: str) -> str:
    """A local folder (as an absolute path) or a hub id that is in the cache; never a download."""
    if not name or not name.strip():
        raise InputError("name the model: hf:PATH (a folder) or hf:ORG/NAME (a hub id already in the cache)")
    folder = Path(name).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"{name} is a file; hf: takes a model folder (config.json, weights, processor) or a "
                             "hub id")
        return str(folder.resolve())
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise InputError(f"the model folder {name} does not exist")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(name, local_files_only=True)
    except (LocalEntryNotFoundError, ValueError, OSError):
        raise InputError(f"{name} is neither a folder nor a model in the Hugging Face cache, and sculpt never "
                         f"downloads critic weights: fetch it first (`hf download {name}`) or give "
                         "its folder") from None


def _load(kind: Kind, name: str, path: str, device, dtype):
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{name} has no usable config.json ({_first_line(exc)}); is it a transformers model "
                         "folder?") from None
    model_type = getattr(config, "model_type", "?")
    if not accepts(kind, model_type):
        raise InputError(f"{name} is a {model_type!r} model, not {kind.what} ({kind.auto_class} cannot load it; "
                         f"e.g. {kind.examples})")
    try:
        processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{name} has no processor that loads ({_first_line(exc)}): the folder needs its "
                         "processor/tokenizer files (preprocessor_config.json, tokenizer files)") from None
    if getattr(processor, "image_processor", None) is None:
        raise InputError(f"{name} has a tokenizer but no image processor (preprocessor_config.json): it cannot "
                         "read images")
    try:
        model = getattr(transformers, kind.auto_class).from_pretrained(path, dtype=dtype, local_files_only=True)
        model = model.to(device).eval()
    except Exception as exc:
        if is_out_of_memory(exc):
            raise out_of_memory(name, device, "loading the model") from None
        if isinstance(exc, (OSError, ValueError)):
            raise InputError(f"{name}: the weights do not load ({_first_line(exc)})") from None
        raise
    return model, processor


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def forget_all() -> None:
    """Drop every loaded model (tests that build models in one process and reload them)."""
    with _LOCK:
        _LOADED.clear()
