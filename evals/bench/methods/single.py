"""single: one txt2img with the brief's seed. The floor every other method must beat."""
from __future__ import annotations

from evals.bench.methods.common import MethodResult, Shot, Trial


def run_single(trial: Trial) -> MethodResult:
    rec = trial.engine.txt2img(trial.brief, seed=trial.seed)
    shot = Shot(task="txt2img", seed=rec.seeds[0], prompt=trial.brief, image=rec.images[0])
    return MethodResult(shots=[shot], choice=[0], final=0, extends=False)
