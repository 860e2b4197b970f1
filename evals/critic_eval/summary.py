"""Per-critic results: accuracies three ways, position bias, failures, latency, cost, calibration."""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from agent.contracts import Usage
from evals.critic_eval.judge import FAIL, PairOutcome
from evals.critic_eval.metrics import (
    FAIL_CODE,
    accuracies,
    calibration,
    ceiling_units,
    credits,
    encode,
    estimate,
    group_ids,
    threshold_predictions,
    tune_threshold,
)

_ERROR_EXAMPLES = 5


def summarize_critic(label: str, outcomes: list[PairOutcome], *, seed: int, n_boot: int,
                     plan_usage: Usage | None = None, fresh_calls: int = 0) -> dict[str, Any]:
    human = encode([o.human for o in outcomes])
    pred = encode([o.pred for o in outcomes])
    group_names = [o.group for o in outcomes]
    groups = group_ids(group_names)
    accuracy = {k: v.to_dict() for k, v in accuracies(human, pred, groups, seed=seed, n_boot=n_boot,
                                                      methods=("no_ties", "with_ties")).items()}
    accuracy["no_ties"]["split"] = accuracy["with_ties"]["split"] = "all"
    accuracy["pickscore"] = _three_way(outcomes, human, pred, group_names, seed=seed, n_boot=n_boot)
    return {
        "label": label,
        "accuracy": accuracy,
        "position": _position(outcomes, groups, seed=seed, n_boot=n_boot),
        "predictions": dict(Counter(o.pred for o in outcomes)),
        "failures": _failures(outcomes),
        "latency": _latency(outcomes),
        "usage": _usage(outcomes, plan_usage or Usage(), fresh_calls),
        "calibration": _calibration(outcomes, human),
        # More than one version means cached answers from an older prompt were mixed in: rerun with a
        # fresh --cache to judge everything with the current prompt.
        "prompt_versions": sorted({j.prompt_version for o in outcomes for j in (o.ab, o.ba) if j.prompt_version}),
    }


def _deltas(outcomes: list[PairOutcome]) -> np.ndarray:
    return np.array([np.nan if o.delta is None else o.delta for o in outcomes], dtype=float)


def _scored(outcomes: list[PairOutcome]) -> bool:
    """A scorer critic: every answered pair has scores in both orders."""
    answered = [o for o in outcomes if o.pred != FAIL]
    return bool(answered) and all(o.delta is not None for o in answered)


def _three_way(outcomes: list[PairOutcome], human: np.ndarray, pred: np.ndarray, group_names: list[str], *,
               seed: int, n_boot: int) -> dict[str, Any]:
    """Three-way credit on the test split; a scorer's tie threshold is tuned on the validation split."""
    split = np.array([o.split for o in outcomes])
    val, test = split == "val", split == "test"
    info: dict[str, Any] = {"split": "test", "threshold": None, "tuned": False, "val_pairs": int(val.sum())}
    if _scored(outcomes):
        delta = _deltas(outcomes)
        threshold = tune_threshold(delta[val], human[val]) if val.any() else 0.0
        info.update(threshold=threshold, tuned=bool(val.any()))
        pred = threshold_predictions(delta, threshold)
    test_groups = group_ids([g for g, t in zip(group_names, test) if t])
    est = estimate(*credits(human[test], pred[test], "pickscore"), test_groups, seed=seed, n_boot=n_boot)
    return {**est.to_dict(), **info}


def _position(outcomes: list[PairOutcome], groups: np.ndarray, *, seed: int, n_boot: int) -> dict[str, Any]:
    ab = encode([o.pred_ab for o in outcomes])
    ba = encode([o.pred_ba for o in outcomes])
    answered = (ab != FAIL_CODE) & (ba != FAIL_CODE)
    flip = estimate((ab != ba).astype(float), answered, groups, seed=seed, n_boot=n_boot)
    winners = [w for o in outcomes for w in (o.ab.winner, o.ba.winner)]
    decided = np.array([w in ("first", "second") for w in winners])
    first = np.array([w == "first" for w in winners], dtype=float)
    first_rate = estimate(first, decided, np.repeat(groups, 2), seed=seed, n_boot=n_boot)
    return {"flip_rate": flip.to_dict(), "first_position_rate": first_rate.to_dict(),
            "inconsistent_pairs": int(((ab != ba) & answered).sum())}


def _failures(outcomes: list[PairOutcome]) -> dict[str, Any]:
    judgements = [(o.source, j) for o in outcomes for j in (o.ab, o.ba)]
    failed = [(s, j) for s, j in judgements if j.winner is None]
    examples, seen = [], set()
    for source, j in failed:
        if j.error not in seen and len(examples) < _ERROR_EXAMPLES:
            seen.add(j.error)
            examples.append({"source": source, "error": (j.error or "")[:300]})
    return {"judgements": len(judgements), "failed": len(failed),
            "rate": len(failed) / len(judgements) if judgements else None,
            "failed_pairs": sum(o.pred == FAIL for o in outcomes), "examples": examples}


def _latency(outcomes: list[PairOutcome]) -> dict[str, Any]:
    secs = np.array([j.seconds for o in outcomes for j in (o.ab, o.ba) if j.called], dtype=float)
    if not len(secs):
        return {"n": 0, "mean_s": None, "p50_s": None, "p95_s": None}
    return {"n": int(len(secs)), "mean_s": float(secs.mean()), "p50_s": float(np.percentile(secs, 50)),
            "p95_s": float(np.percentile(secs, 95))}


def _usage(outcomes: list[PairOutcome], plan_usage: Usage, fresh_calls: int) -> dict[str, Any]:
    judging = sum((Usage.model_validate(j.usage) for o in outcomes for j in (o.ab, o.ba)), Usage())
    total = judging + plan_usage
    cached = sum(j.cached for o in outcomes for j in (o.ab, o.ba))
    return {"calls": total.calls, "input_tokens": total.input_tokens, "output_tokens": total.output_tokens,
            "cost_usd": total.cost_usd, "planning_calls": plan_usage.calls,
            "planning_cost_usd": plan_usage.cost_usd, "fresh_calls_this_run": fresh_calls,
            "cached_judgements": int(cached)}


def _calibration(outcomes: list[PairOutcome], human: np.ndarray) -> list[dict[str, float]] | None:
    if not _scored(outcomes):
        return None
    return calibration(_deltas(outcomes), human)


def summarize_ceiling(outcomes: list[PairOutcome], *, seed: int, n_boot: int) -> dict[str, Any] | None:
    """Leave-one-annotator-out agreement, where the dataset publishes individual annotations."""
    human, pred, unit_groups = ceiling_units([o.margins for o in outcomes], [o.group for o in outcomes])
    if not len(human):
        return None
    acc = accuracies(human, pred, group_ids(unit_groups), seed=seed, n_boot=n_boot)
    return {"accuracy": {k: {**v.to_dict(), "split": "all"} for k, v in acc.items()},
            "annotator_votes": int(len(human)), "pairs": sum(len(o.margins) >= 2 for o in outcomes),
            "method": "leave-one-annotator-out"}


def summarize_dataset(outcomes: list[PairOutcome]) -> dict[str, Any]:
    labels = Counter(o.human for o in outcomes)
    splits = Counter(o.split for o in outcomes)
    return {"pairs": len(outcomes), "prompts": len({o.group for o in outcomes}),
            "human_labels": {k: labels.get(k, 0) for k in ("a", "b", "tie")},
            "val_pairs": splits.get("val", 0), "test_pairs": splits.get("test", 0),
            "val_prompts": len({o.group for o in outcomes if o.split == "val"}),
            "test_prompts": len({o.group for o in outcomes if o.split == "test"})}
