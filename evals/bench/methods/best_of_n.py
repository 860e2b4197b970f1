"""best-of-n: B independent samples, the driving critic keeps the best.

The pick is by critique score (ties keep the earlier sample), the same rule at every budget k, so
the curve's point at k is exactly what best-of-k would have answered.
"""
from __future__ import annotations

from evals.bench.methods.common import DrivingCritic, MethodResult, Shot, Trial, best_so_far


def run_best_of_n(trial: Trial) -> MethodResult:
    driver = DrivingCritic(trial)
    shots: list[Shot] = []
    for i in range(trial.budget):
        rec = trial.engine.txt2img(trial.brief, seed=trial.seed + i)
        crit = driver.critique(rec.images[0])
        shots.append(Shot(task="txt2img", seed=rec.seeds[0], prompt=trial.brief, image=rec.images[0],
                          score=None if crit is None else round(crit.score, 4),
                          claimed=None if crit is None else crit.all_passed))
    choice = best_so_far([s.score for s in shots])
    return MethodResult(shots=shots, choice=list(choice), final=choice[-1], usage=driver.spent(),
                   measured=driver.measured())
