"""Choose where and in what precision to run: cuda -> bf16/fp16, mps -> fp16, cpu -> fp32."""
from __future__ import annotations

import torch

from tools.errors import InputError

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}


def pick_device(requested: str | None = None) -> torch.device:
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise InputError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but PyTorch sees no CUDA GPU; use --device cpu "
                         "or install a CUDA build of PyTorch")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("device 'mps' was asked for but is not available on this machine; use --device cpu")
    return device


def pick_dtype(device: torch.device, requested: str | torch.dtype | None = None) -> torch.dtype:
    if isinstance(requested, torch.dtype):
        return requested
    if requested not in (None, "", "auto"):
        try:
            return _DTYPES[str(requested).lower()]
        except KeyError:
            raise InputError(f"unknown dtype {requested!r}: use auto, float32, float16 or bfloat16") from None
    if device.type == "cuda":
        # bf16 has fp32's range, so VAEs that overflow in fp16 (SDXL's) stay finite.
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
