"""Agreement metrics, tie-threshold tuning and prompt-level bootstrap confidence intervals.

Labels are coded as numbers: a = 1, b = -1, tie = 0, and a failed prediction = 9 (never equal to
a human label). Every metric is a ratio of sums (credit / counted units), so the bootstrap can
resample prompts: each prompt contributes its own sums, and pairs of one prompt move together.

The three accuracies, over pairs with human label h and prediction p:

* ``no_ties``: pairs where people preferred one image; credit 1 when p == h. A predicted tie or a
  failure is wrong.
* ``with_ties``: all pairs; credit 1 when p == h exactly (tie only matches tie).
* ``pickscore``: all pairs; credit 1 when p == h, 0.5 when exactly one of p and h is a tie, 0 when
  they name opposite images or the critic failed (Pick-a-Pic paper's three-way accuracy).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from evals.critic_eval.pairs import A, B, TIE

FAIL_CODE = 9
CODES = {A: 1, B: -1, TIE: 0, "fail": FAIL_CODE}
METHODS = ("no_ties", "with_ties", "pickscore")
MAX_THRESHOLDS = 512  # candidate thresholds tried when tuning; quantiles beyond that


def encode(labels: Sequence[str]) -> np.ndarray:
    return np.array([CODES[x] for x in labels], dtype=np.int64)


def credits(human: np.ndarray, pred: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit credit and whether the unit counts, for one of :data:`METHODS`."""
    exact = (pred == human).astype(float)
    if method == "no_ties":
        return exact, human != 0
    if method == "with_ties":
        return exact, np.ones(len(human), dtype=bool)
    if method == "pickscore":
        half = (pred != human) & (pred != FAIL_CODE) & ((pred == 0) | (human == 0))
        return np.where(exact == 1, 1.0, np.where(half, 0.5, 0.0)), np.ones(len(human), dtype=bool)
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


@dataclass
class Estimate:
    """A ratio of sums with its 95% bootstrap interval (None where nothing was counted)."""

    value: float | None
    ci: tuple[float, float] | None
    n: int  # units counted (pairs, judgements or annotator votes)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": list(self.ci) if self.ci else None, "n": self.n}


def group_ids(groups: Sequence[str]) -> np.ndarray:
    index: dict[str, int] = {}
    return np.array([index.setdefault(g, len(index)) for g in groups], dtype=np.int64)


def estimate(values: np.ndarray, counted: np.ndarray, groups: np.ndarray, *, seed: int,
             n_boot: int = 1000) -> Estimate:
    counted = counted.astype(bool)
    n = int(counted.sum())
    if n == 0:
        return Estimate(None, None, 0)
    size = int(groups.max()) + 1 if len(groups) else 0
    num = np.bincount(groups, weights=np.where(counted, values, 0.0), minlength=size)
    den = np.bincount(groups, weights=counted.astype(float), minlength=size)
    return Estimate(float(num.sum() / den.sum()), bootstrap_ci(num, den, seed=seed, n_boot=n_boot), n)


def bootstrap_ci(num: np.ndarray, den: np.ndarray, *, seed: int, n_boot: int = 1000,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of sum(num)/sum(den) over prompts drawn with replacement.

    The same seed draws the same resamples for every critic and metric, so intervals of two critics
    on one dataset come from the same resampled datasets.
    """
    if n_boot < 1 or den.sum() == 0:
        return None
    g = len(num)
    rng = np.random.default_rng(seed)
    stats = []
    chunk = max(1, 4_000_000 // g)  # bound the index matrix to a few tens of megabytes
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, g, size=(min(chunk, n_boot - start), g))
        d = den[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats.append(np.where(d > 0, num[idx].sum(axis=1) / d, np.nan))
    s = np.concatenate(stats)
    s = s[~np.isnan(s)]
    if not len(s):
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(s, [tail, 100 - tail])
    return float(lo), float(hi)


def accuracies(human: np.ndarray, pred: np.ndarray, groups: np.ndarray, *, seed: int,
               n_boot: int, methods: Sequence[str] = METHODS) -> dict[str, Estimate]:
    return {m: estimate(*credits(human, pred, m), groups, seed=seed, n_boot=n_boot) for m in methods}


def threshold_predictions(delta: np.ndarray, threshold: float) -> np.ndarray:
    """Predictions from score differences: a tie when |delta| <= threshold; NaN deltas fail."""
    pred = np.where(np.abs(delta) > threshold, np.sign(delta), 0.0)
    return np.where(np.isnan(delta), FAIL_CODE, pred).astype(np.int64)


def tune_threshold(delta: np.ndarray, human: np.ndarray) -> float:
    """The tie threshold on |score(a) - score(b)| that maximises three-way credit; the smallest
    such threshold when several do equally well, and 0 when there is nothing to tune on."""
    finite = np.abs(delta[~np.isnan(delta)])
    if not len(finite):
        return 0.0
    candidates = np.unique(np.concatenate([[0.0], finite]))
    if len(candidates) > MAX_THRESHOLDS:
        candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, MAX_THRESHOLDS)))
    best_t, best = 0.0, -1.0
    for t in candidates:
        credit, _ = credits(human, threshold_predictions(delta, float(t)), "pickscore")
        score = float(credit.mean())
        if score > best + 1e-12:
            best_t, best = float(t), score
    return best_t


def calibration(delta: np.ndarray, human: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """How often people prefer image a, by bins of score(a) - score(b) (ties count one half).

    A calibrated scorer rises from 0 to 1 across the bins; a flat line means its score difference
    says nothing about what people chose.
    """
    ok = ~np.isnan(delta)
    d, h = delta[ok], human[ok]
    if not len(d):
        return []
    edges = np.unique(np.quantile(d, np.linspace(0, 1, min(bins, len(d)) + 1)))
    which = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, max(0, len(edges) - 2))
    pref = np.where(h == 1, 1.0, np.where(h == 0, 0.5, 0.0))
    out = []
    for k in np.unique(which):
        m = which == k
        out.append({"delta_mean": float(d[m].mean()), "delta_lo": float(d[m].min()), "delta_hi": float(d[m].max()),
                    "human_prefers_a": float(pref[m].mean()), "n": int(m.sum())})
    return out


def ceiling_units(margins: Sequence[Sequence[float]], groups: Sequence[str]
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Leave-one-annotator-out units: each annotator's own vote against the consensus of the others.

    For a pair with annotator margins m_1..m_k (rank(b) - rank(a), positive when a is better), the
    held-out annotator i votes sign(m_i) and plays the human; the others' averaged ranking,
    sign(sum of m_j for j != i), plays the critic. Pairs with fewer than two annotators are skipped.
    """
    human, pred, unit_groups = [], [], []
    for m, g in zip(margins, groups):
        if len(m) < 2:
            continue
        for i, mi in enumerate(m):
            human.append(int(np.sign(mi)))
            pred.append(int(np.sign(sum(m[:i]) + sum(m[i + 1:]))))
            unit_groups.append(g)
    return np.array(human, dtype=np.int64), np.array(pred, dtype=np.int64), unit_groups
