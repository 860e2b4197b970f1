"""Metrics against values worked out by hand: accuracies, thresholds, bootstrap, ceiling, summaries."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evals.critic_eval.judge import FAIL, Judgement, PairOutcome
from evals.critic_eval.metrics import (
    FAIL_CODE,
    bootstrap_ci,
    calibration,
    ceiling_units,
    credits,
    encode,
    estimate,
    group_ids,
    threshold_predictions,
    tune_threshold,
)
from evals.critic_eval.summary import summarize_ceiling, summarize_critic

# human:  a   a    b    tie  tie  b
# pred:   a   tie  a    tie  b    fail
HUMAN = encode(["a", "a", "b", "tie", "tie", "b"])
PRED = encode(["a", "tie", "a", "tie", "b", "fail"])


def test_credit_per_method():
    c, n = credits(HUMAN, PRED, "no_ties")
    assert n.tolist() == [True, True, True, False, False, True]
    assert c[n].tolist() == [1, 0, 0, 0]  # exact match only; a predicted tie is wrong
    c, n = credits(HUMAN, PRED, "with_ties")
    assert n.all() and c.tolist() == [1, 0, 0, 1, 0, 0]
    c, n = credits(HUMAN, PRED, "pickscore")
    # exact 1; predicted tie vs decided 0.5; decided vs human tie 0.5; opposite 0; failure 0
    assert n.all() and c.tolist() == [1, 0.5, 0, 1, 0.5, 0]


def test_estimate_is_a_ratio_of_sums():
    groups = group_ids(["p", "p", "q", "q", "r", "r"])
    est = estimate(*credits(HUMAN, PRED, "pickscore"), groups, seed=0, n_boot=200)
    assert est.value == pytest.approx(3 / 6) and est.n == 6
    est = estimate(*credits(HUMAN, PRED, "no_ties"), groups, seed=0, n_boot=200)
    assert est.value == pytest.approx(1 / 4) and est.n == 4
    empty = estimate(np.zeros(2), np.zeros(2, bool), group_ids(["p", "q"]), seed=0)
    assert (empty.value, empty.ci, empty.n) == (None, None, 0)


def test_bootstrap_degenerate_when_every_prompt_agrees():
    lo, hi = bootstrap_ci(np.array([3.0, 2.0, 5.0]), np.array([4.0, 8 / 3, 20 / 3]), seed=0, n_boot=500)
    assert lo == pytest.approx(0.75) and hi == pytest.approx(0.75)


def test_bootstrap_resamples_prompts_not_pairs():
    # Two prompts of 100 pairs: one all right, one all wrong. Drawing two prompts with replacement
    # gives 1 (p = 1/4), 1/2 (p = 1/2) or 0 (p = 1/4), so the 95% interval is [0, 1]. Resampling the
    # 200 pairs instead would give about 0.5 +- 0.07.
    values = np.array([1.0] * 100 + [0.0] * 100)
    groups = np.array([0] * 100 + [1] * 100)
    est = estimate(values, np.ones(200, bool), groups, seed=1, n_boot=2000)
    assert est.value == 0.5 and est.ci == (0.0, 1.0)


def test_bootstrap_width_follows_the_number_of_prompts():
    # 20 prompts of 10 pairs, half all right and half all wrong: the resampled mean is
    # Binomial(20, 1/2) / 20, whose 2.5% and 97.5% quantiles are 6/20 and 14/20.
    values = np.repeat([1.0, 0.0] * 10, 10)
    groups = np.repeat(np.arange(20), 10)
    lo, hi = estimate(values, np.ones(200, bool), groups, seed=2, n_boot=4000).ci
    assert 0.25 <= lo <= 0.35 and 0.65 <= hi <= 0.75
    assert estimate(values, np.ones(200, bool), groups, seed=2, n_boot=4000).ci == (lo, hi)  # seeded


def test_threshold_predictions():
    pred = threshold_predictions(np.array([0.3, -0.3, 0.1, -0.2, np.nan]), 0.2)
    assert pred.tolist() == [1, -1, 0, 0, FAIL_CODE]


def test_tune_threshold_by_hand():
    # delta = [3, 0.5, -0.2], people: a, tie, tie. Three-way credit per threshold:
    #   t = 0    -> a, a, b       -> 1 + .5 + .5 = 2.0
    #   t = 0.2  -> a, a, tie     -> 1 + .5 + 1  = 2.5
    #   t = 0.5  -> a, tie, tie   -> 1 + 1 + 1   = 3.0   (best)
    #   t = 3    -> tie, tie, tie -> .5 + 1 + 1  = 2.5
    assert tune_threshold(np.array([3.0, 0.5, -0.2]), encode(["a", "tie", "tie"])) == 0.5
    # Equal credit at every threshold below 1: the smallest wins.
    assert tune_threshold(np.array([1.0, 2.0]), encode(["a", "a"])) == 0.0
    assert tune_threshold(np.array([np.nan]), encode(["a"])) == 0.0


def test_calibration_bins_by_hand():
    bins = calibration(np.array([-2.0, -1.0, 1.0, 2.0]), encode(["b", "tie", "a", "a"]), bins=2)
    assert [(b["delta_mean"], b["human_prefers_a"], b["n"]) for b in bins] == [(-1.5, 0.25, 2), (1.5, 1.0, 2)]


def test_leave_one_annotator_out_by_hand():
    # Pair 1: annotators vote a, a, b. Held out 1: the others (a, b) sum to a tie; same for 2;
    # held out 3 (b): the others say a. Pair 2: everyone says a; the others always agree.
    human, pred, groups = ceiling_units([(1, 1, -1), (2, 1, 1), (1,)], ["p", "q", "r"])
    assert human.tolist() == [1, 1, -1, 1, 1, 1]
    assert pred.tolist() == [0, 0, 1, 1, 1, 1]
    assert groups == ["p", "p", "p", "q", "q", "q"]  # the one-annotator pair is skipped


def judgement(winner, scores=None, error=None, seconds=1.0, calls=1, cost=0.0):
    return Judgement(winner=winner, scores=scores, error=error, seconds=seconds,
                     usage={"calls": calls, "input_tokens": 10 * calls, "output_tokens": calls, "cost_usd": cost})


def outcome(i, human, ab, ba, split="test", group=None, margins=()):
    return PairOutcome(index=i, source=f"row {i}", group=group or f"p{i}", split=split, human=human, ab=ab, ba=ba,
                       margins=margins)


def test_summary_of_a_position_biased_critic_by_hand():
    o = [
        outcome(0, "a", judgement("first", seconds=1), judgement("second", seconds=2)),  # a both times
        outcome(1, "b", judgement("first", seconds=3), judgement("first", seconds=4)),   # a, then b: a tie
        outcome(2, "tie", judgement("tie", seconds=5), judgement("tie", seconds=6)),     # tie both times
        outcome(3, "a", judgement("first", seconds=7),
                judgement(None, error="bad json", calls=2, cost=0.5, seconds=8)),        # failed
    ]
    assert [x.pred for x in o] == ["a", "tie", "tie", FAIL]
    s = summarize_critic("c", o, seed=0, n_boot=100)
    acc = s["accuracy"]
    assert acc["no_ties"]["value"] == pytest.approx(1 / 3) and acc["no_ties"]["n"] == 3
    assert acc["with_ties"]["value"] == pytest.approx(2 / 4)
    # no scores: the critic's own ties; credits 1, .5, 1, 0 on the test split
    assert acc["pickscore"]["value"] == pytest.approx(2.5 / 4) and acc["pickscore"]["threshold"] is None
    pos = s["position"]
    assert pos["flip_rate"]["value"] == pytest.approx(1 / 3) and pos["flip_rate"]["n"] == 3
    # judgements naming a winner: first, second, first, first, first -> 4 of 5 picked the first shown
    assert pos["first_position_rate"]["value"] == pytest.approx(4 / 5) and pos["inconsistent_pairs"] == 1
    assert s["failures"]["rate"] == pytest.approx(1 / 8) and s["failures"]["failed_pairs"] == 1
    assert s["failures"]["examples"] == [{"source": "row 3", "error": "bad json"}]
    assert s["predictions"] == {"a": 1, "tie": 2, "fail": 1}
    # seconds 1..8: mean 4.5; linear-interpolated percentiles 1 + 0.5 * 7 = 4.5 and 1 + 0.95 * 7 = 7.65
    assert s["latency"]["n"] == 8 and s["latency"]["mean_s"] == 4.5
    assert s["latency"]["p50_s"] == pytest.approx(4.5) and s["latency"]["p95_s"] == pytest.approx(7.65)
    assert s["usage"]["calls"] == 9 and s["usage"]["input_tokens"] == 90 and s["usage"]["cost_usd"] == 0.5
    assert s["calibration"] is None


def test_summary_of_a_scorer_tunes_its_threshold_on_validation():
    def scored(i, human, d, split):
        # scores [first, second]; ab shows a first, ba shows b first; delta = d in both orders
        return outcome(i, human, judgement("first" if d > 0 else "second", [1 + d, 1.0]),
                       judgement("second" if d > 0 else "first", [1.0, 1 + d]), split=split)

    o = [scored(0, "a", 3.0, "val"), scored(1, "tie", 0.5, "val"), scored(2, "tie", -0.2, "val"),
         scored(3, "a", 0.25, "test"), scored(4, "b", -1.0, "test"), scored(5, "tie", 0.75, "test")]
    assert [x.delta for x in o] == pytest.approx([3.0, 0.5, -0.2, 0.25, -1.0, 0.75])
    three = summarize_critic("s", o, seed=0, n_boot=100)["accuracy"]["pickscore"]
    # Tuned on validation (the hand example above) to 0.5; on test: 0.25 -> tie vs a (0.5),
    # -1 -> b (1), 0.75 -> a vs tie (0.5).
    assert three["threshold"] == 0.5 and three["tuned"] and three["n"] == 3
    assert three["value"] == pytest.approx(2 / 3)


def test_human_ceiling_summary_by_hand():
    o = [outcome(0, "a", judgement("first"), judgement("second"), group="p", margins=(1, 1, -1)),
         outcome(1, "a", judgement("first"), judgement("second"), group="q", margins=(2, 1, 1))]
    c = summarize_ceiling(o, seed=0, n_boot=100)
    # Units (held-out vote, others): p: (a, tie), (a, tie), (b, a); q: (a, a) three times.
    assert c["accuracy"]["no_ties"]["value"] == pytest.approx(3 / 6)
    assert c["accuracy"]["with_ties"]["value"] == pytest.approx(3 / 6)
    assert c["accuracy"]["pickscore"]["value"] == pytest.approx((0.5 + 0.5 + 0 + 3) / 6)
    assert c["annotator_votes"] == 6 and c["pairs"] == 2
    assert summarize_ceiling([outcome(0, "a", judgement("first"), judgement("second"))], seed=0, n_boot=10) is None
    assert not math.isnan(c["accuracy"]["pickscore"]["ci"][0])
