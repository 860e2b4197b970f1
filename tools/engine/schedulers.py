"""Swap a pipeline's sampler by a short name, keeping the checkpoint's noise schedule settings."""
from __future__ import annotations

from tools.errors import InputError

SCHEDULERS = {
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {}),
    "dpm++_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "unipc": ("UniPCMultistepScheduler", {}),
}


def apply_scheduler(pipe, name: str) -> None:
    import diffusers

    try:
        cls_name, overrides = SCHEDULERS[name]
    except KeyError:
        raise InputError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}") from None
    cls = getattr(diffusers, cls_name)
    # from_config carries over the trained betas, prediction type and timestep spacing.
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **overrides)
