"""loopback: AUTOMATIC1111's loopback script. No critic: each pass feeds the last image back in.

One txt2img with the brief's seed, then B-1 img2img passes, each from the previous image with the
seed one higher (A1111 sets ``p.seed = processed.seed + 1``), the denoising strength moving from
the initial to the final value along A1111's curve. The answer is always the last image.
"""
from __future__ import annotations

import math

from evals.bench.methods.common import MethodResult, Shot, Trial

CURVES = ("linear", "aggressive", "lazy")


def denoising_strength(loop: int, loops: int, initial: float, final: float, curve: str = "linear") -> float:
    """A1111's ``calculate_denoising_strength``: the strength of pass ``loop`` (0-based) of ``loops``.

    The first pass runs at ``initial`` and the last at ``final``; "aggressive" moves early (a sine
    quarter wave), "lazy" late (one minus a cosine), "linear" evenly.
    """
    if loops == 1:
        return initial
    progress = loop / (loops - 1)
    if curve == "aggressive":
        fraction = math.sin(progress * math.pi * 0.5)
    elif curve == "lazy":
        fraction = 1 - math.cos(progress * math.pi * 0.5)
    elif curve == "linear":
        fraction = progress
    else:
        raise ValueError(f"unknown loopback curve {curve!r}; use one of {CURVES}")
    return initial + (final - initial) * fraction


def run_loopback(trial: Trial) -> MethodResult:
    opts = trial.loopback
    rec = trial.engine.txt2img(trial.brief, seed=trial.seed)
    image = rec.images[0]
    shots = [Shot(task="txt2img", seed=rec.seeds[0], prompt=trial.brief, image=image)]
    loops = trial.budget - 1
    for i in range(loops):
        strength = denoising_strength(i, loops, opts.initial, opts.final, opts.curve)
        rec = trial.engine.img2img(image, trial.brief, strength=strength, seed=trial.seed + 1 + i)
        image = rec.images[0]
        shots.append(Shot(task="img2img", seed=rec.seeds[0], prompt=trial.brief, image=image,
                          strength=round(strength, 4)))
    return MethodResult(shots=shots, choice=list(range(len(shots))), final=len(shots) - 1,
                   info={"curve": opts.curve, "initial": opts.initial, "final": opts.final})
