"""ShapesBench metrics against values worked out by hand on small synthetic records; no engine."""
from __future__ import annotations

import math

import pytest

from evals.bench.errors import BenchError
from evals.bench.methods import LoopbackOptions
from evals.bench.methods.common import best_so_far
from evals.bench.methods.loopback import denoising_strength
from evals.bench.metrics import (
    aggregate,
    calls_to_success,
    curve,
    first_success,
    requirement_accuracy,
    success_by_k,
    wilson,
)
from evals.bench.runner import BenchConfig, make_briefs


def test_wilson_interval_matches_the_formula_worked_by_hand():
    # 8/10: p=0.8, z^2=3.8415, denominator 1.38415, centre 0.71674, half-width 0.22658.
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.49016, abs=1e-4) and hi == pytest.approx(0.94332, abs=1e-4)
    # 0/10: [0, z^2 / (n + z^2)]; 10/10 mirrors it.
    assert wilson(0, 10) == pytest.approx((0.0, 3.8415 / 13.8415), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((1 - 3.8415 / 13.8415, 1.0), abs=1e-4)
    assert wilson(0, 0) is None


def test_success_by_k_extends_a_stopped_method_and_not_single():
    ok = [False, False, True]
    # best-so-far choices 0, 0, 2; stopped after 3 images of a budget of 5: its answer stands.
    assert success_by_k([0, 0, 2], 2, ok, 5, extends=True) == [False, False, True, True, True]
    assert success_by_k([0], 0, [True], 5, extends=False) == [True]
    assert success_by_k([], None, [], 3, extends=True) == [False, False, False]
    assert first_success([False, False, True, True]) == 3 and first_success([False]) is None


def test_best_so_far_keeps_the_earlier_image_on_ties_and_ranks_unjudged_last():
    assert best_so_far([None, 0.5, 0.5, 0.7, 0.2]) == [0, 1, 1, 3, 3]
    assert best_so_far([0.0, None, 0.0]) == [0, 0, 0]


def test_loopback_strength_follows_a1111_curves():
    linear = [denoising_strength(i, 4, 0.5, 0.3, "linear") for i in range(4)]
    assert linear == pytest.approx([0.5, 0.5 - 0.2 / 3, 0.5 - 0.4 / 3, 0.3])
    # Half-way: aggressive has moved sin(pi/4) of the way, lazy 1 - cos(pi/4).
    assert denoising_strength(1, 3, 0.5, 0.3, "aggressive") == pytest.approx(0.5 - 0.2 * math.sqrt(0.5))
    assert denoising_strength(1, 3, 0.5, 0.3, "lazy") == pytest.approx(0.5 - 0.2 * (1 - math.sqrt(0.5)))
    assert denoising_strength(0, 1, 0.5, 0.3, "lazy") == 0.5  # one pass: the initial strength
    with pytest.raises(ValueError, match="unknown loopback curve"):
        denoising_strength(0, 2, 0.5, 0.3, "cubic")


def _record(method, difficulty, brief_id, success, calls, final_failed, usage=(0, 0)):
    """A minimal record: one shot per call, the answer failing ``final_failed``."""
    shots = [{"exact": {"ok": not final_failed, "failed": final_failed}} for _ in range(calls)]
    return {"method": method, "difficulty": difficulty, "brief_id": brief_id, "success_by_k": success,
            "all_correct": success[-1], "calls_to_success": first_success(success), "calls": calls,
            "shots": shots, "final": calls - 1, "info": {},
            "checklist": [{"id": "g0.object", "kind": "object"}, {"id": "background", "kind": "background"}],
            "usage": {"critic_calls": usage[0], "tokens": usage[1], "usd": 0.0}}


def test_curve_calls_to_success_and_requirements_by_hand():
    records = [
        _record("m", 2, "a", [False, True, True], 2, []),           # success from k=2
        _record("m", 2, "b", [False, False, False], 3, ["background"]),
        _record("m", 2, "c", [True, True, True], 1, []),             # success at once
        _record("m", 2, "d", [False, False, True], 3, []),           # success at k=3
    ]
    points = curve(records, 3)
    assert [p["rate"] for p in points] == [0.25, 0.5, 0.75]
    assert points[1]["successes"] == 2 and points[1]["n"] == 4
    lo, hi = wilson(3, 4)
    assert points[2]["ci"] == [round(lo, 4), round(hi, 4)]
    # Calls to success 2, 1, 3 (b never succeeds): mean 2, median 2, 3 briefs.
    assert calls_to_success(records) == {"mean": 2.0, "median": 2.0, "n": 3}
    acc = requirement_accuracy(records)
    assert acc["overall"]["successes"] == 7 and acc["overall"]["n"] == 8
    assert acc["by_kind"]["background"]["rate"] == 0.75 and acc["by_kind"]["object"]["rate"] == 1.0


def test_single_has_one_point_and_aggregates_split_by_difficulty():
    records = [_record("single", 1, "x", [True], 1, []), _record("single", 2, "y", [False], 1, ["g0.object"],
                                                                 usage=(2, 30))]
    timings = {"single/x": {"wall_s": 1.0, "engine_s": 0.5, "critic_s": 0.0},
               "single/y": {"wall_s": 3.0, "engine_s": 2.5, "critic_s": 0.1}}
    agg, tim = aggregate(records, timings, ["single"], [1, 2], budget=4)
    assert set(agg["single"]) == {"1", "2", "all"}
    assert [p["k"] for p in agg["single"]["all"]["curve"]] == [1]
    assert agg["single"]["1"]["all_correct"]["rate"] == 1.0 and agg["single"]["2"]["all_correct"]["rate"] == 0.0
    assert agg["single"]["all"]["all_correct"]["rate"] == 0.5
    assert agg["single"]["all"]["tokens"] == {"mean": 15.0, "median": 15.0, "total": 30}
    assert tim["single"]["all"]["wall_s"] == {"mean": 2.0, "median": 2.0, "total": 4.0}


def test_briefs_are_seeded_and_each_has_its_own_seed():
    a, b = make_briefs(3, 4, (1, 2)), make_briefs(3, 4, (1, 2))
    assert a == b and [i.id for i in a][:2] == ["d1-000", "d1-001"] and len(a) == 8
    assert len({i.seed for i in a}) == 8
    assert [i.text for i in make_briefs(4, 4, (1, 2))] != [i.text for i in a]
    # More briefs keep the first ones as they were, so a longer benchmark extends a shorter one.
    assert make_briefs(3, 6, (2,))[:4] == make_briefs(3, 4, (2,))


@pytest.mark.parametrize("changes, message", [
    ({"budget": 0}, "--budget must be at least 1"),
    ({"difficulties": (4,)}, "--difficulty takes distinct"),
    ({"methods": ("single", "beam")}, "--methods takes distinct names"),
    ({"briefs": 0}, "--briefs must be at least 1"),
    ({"loopback": LoopbackOptions(initial=1.5)}, "--loopback-initial is a denoising strength"),
    ({"loopback": LoopbackOptions(curve="cubic")}, "--loopback-curve must be one of"),
])
def test_bad_settings_are_refused_with_the_fix(changes, message):
    with pytest.raises(BenchError, match=message):
        BenchConfig(**changes).validate()


def test_a_failure_is_split_by_whether_a_correct_image_was_ever_made(tmp_path):
    import json

    from evals.bench.failure_split import table

    def record(i, difficulty, correct, shots_ok):
        return {"method": "agent", "brief_id": f"d{difficulty}-{i:03d}", "difficulty": difficulty,
                "all_correct": correct, "shots": [{"exact": {"ok": ok}} for ok in shots_ok], "info": {}}

    records = [record(0, 3, True, [False, True]), record(1, 3, False, [False, False]),
               record(2, 3, False, [True, False]), record(3, 2, False, []),
               {**record(4, 3, False, [True]), "method": "best-of-n"}]
    level = tmp_path / "noise-0.1"
    level.mkdir()
    (level / "results.json").write_text(json.dumps({"records": records}))
    assert table(tmp_path) == [
        {"critic error": "0.1", "objects": 2, "briefs": 1, "failed": 1, "never made": 1, "made, not chosen": 0,
         "mid-move": 0},
        {"critic error": "0.1", "objects": 3, "briefs": 3, "failed": 2, "never made": 1, "made, not chosen": 1,
         "mid-move": 0}]
