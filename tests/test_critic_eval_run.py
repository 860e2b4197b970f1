"""Judging with real critics: known scripted answers, position bias, the cache, resuming, concurrency."""
from __future__ import annotations

import io
import json
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from agent.critics.base import CriticReplyError, CriticUnavailable
from agent.critics.scene import SceneCritic
from evals.critic_eval import EvalConfig, evaluate
from evals.critic_eval.errors import CriticEvalError, EvaluationStopped
from evals.critic_eval.fixtures import write_fixture

BRIEFS = ["a red circle", "a blue square", "a green triangle", "a yellow diamond"]


class CountingCritic(SceneCritic):
    """The exact critic, counting the calls that reach it; unreachable after ``fail_after`` judgements."""

    name = "counting"

    def __init__(self, fail_after: int | None = None):
        super().__init__()
        self.fail_after = fail_after
        self.judge_calls = 0
        self.plan_calls = 0
        self._lock = threading.Lock()

    def plan(self, brief):
        with self._lock:
            self.plan_calls += 1
        return super().plan(brief)

    def judge_pair(self, first, second, brief, checklist):
        with self._lock:
            if self.fail_after is not None and self.judge_calls >= self.fail_after:
                raise CriticUnavailable("connection refused")
            self.judge_calls += 1
        return super().judge_pair(first, second, brief, checklist)


class PlanRefused(SceneCritic):
    name = "plan-refused"

    def plan(self, brief):
        raise CriticReplyError("the reply was not JSON")


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def pickapic(path, labels, captions=BRIEFS):
    rows = []
    for i, (label, caption) in enumerate(zip(labels, captions)):
        l0 = {"a": 1.0, "b": 0.0, "tie": 0.5}[label]
        rows.append({"caption": caption, "jpg_0": png((i + 1, 0, 0)), "jpg_1": png((0, i + 1, 0)), "label_0": l0,
                     "label_1": 1.0 - l0, "has_label": True})
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def run(dataset, fmt, critics, tmp_path=None, **kw):
    kw.setdefault("show_progress", False)
    kw.setdefault("bootstrap", 200)
    return evaluate(EvalConfig(dataset=dataset, format=fmt, critics=critics, out=tmp_path, **kw))


def test_scripted_critic_with_known_answers(tmp_path):
    # Scores per critique call, in call order: pair by pair, a-first order then b-first order,
    # the first shown image then the second.
    steps = [0.75, 0.25, 0.25, 0.75,      # pair 0 (people: a): a wins both ways
             0.75, 0.25, 0.75, 0.25,      # pair 1 (people: b): the first shown wins -> flip -> tie
             0.625, 0.5, 0.5, 0.625,      # pair 2 (people: tie): a wins both ways, delta 0.125
             {"error": "reply"}, 0.25, 0.75]  # pair 3 (people: a): a-first fails; b-first says a
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"critiques": [s if isinstance(s, dict) else {"score": s} for s in steps]}))
    data = pickapic(tmp_path / "d.parquet", ["a", "b", "tie", "a"])
    result = run(data, "pickapic", [f"scripted:{script}"], tmp_path / "out", concurrency=1, val_fraction=0.0)
    (c,) = result.metrics["critics"]
    d = result.metrics["dataset"]
    assert (d["pairs"], d["prompts"], d["human_labels"], d["test_pairs"]) == (4, 4, {"a": 2, "b": 1, "tie": 1}, 4)
    assert [o.pred for o in result.outcomes[c["label"]]] == ["a", "tie", "a", "fail"]
    acc = c["accuracy"]
    assert acc["no_ties"]["value"] == pytest.approx(1 / 3)   # right on pair 0 of pairs 0, 1, 3
    assert acc["with_ties"]["value"] == pytest.approx(1 / 4)  # right on pair 0 only
    # A scorer with no validation split: threshold 0 on deltas 0.5, 0, 0.125 and a failure:
    # a = a (1), tie vs b (0.5), a vs tie (0.5), failure (0).
    assert acc["pickscore"]["threshold"] == 0.0 and not acc["pickscore"]["tuned"]
    assert acc["pickscore"]["value"] == pytest.approx(2 / 4)
    assert c["position"]["flip_rate"]["value"] == pytest.approx(1 / 3)
    # winners by position: first, second | first, first | first, second | -, second -> 4 of 7 first
    assert c["position"]["first_position_rate"]["value"] == pytest.approx(4 / 7)
    assert c["failures"]["rate"] == pytest.approx(1 / 8)
    assert "unusable reply" in c["failures"]["examples"][0]["error"]
    assert c["usage"]["calls"] == 7 * 2 + 1  # two critiques per answered judgement, one for the failure
    assert c["predictions"] == {"a": 2, "tie": 1, "fail": 1}


def test_first_position_critic_is_caught_by_the_flip_rate(tmp_path):
    data = write_fixture("pickapic", tmp_path / "fx")
    result = run(data, "pickapic", ["scene", "scripted:first"], tmp_path / "out", val_fraction=0.5)
    scene, first = result.metrics["critics"]
    assert scene["position"]["flip_rate"]["value"] == 0.0
    assert scene["accuracy"]["no_ties"]["value"] == 1.0 and scene["accuracy"]["with_ties"]["value"] == 1.0
    assert first["position"]["flip_rate"]["value"] == 1.0
    assert first["position"]["first_position_rate"]["value"] == 1.0
    outcomes = result.outcomes["scripted:first"]
    assert {o.pred for o in outcomes} == {"tie"}  # every flip becomes a tie
    ties = sum(o.human == "tie" for o in outcomes)
    assert first["accuracy"]["no_ties"]["value"] == 0.0
    assert first["accuracy"]["with_ties"]["value"] == pytest.approx(ties / len(outcomes))
    test = [o for o in outcomes if o.split == "test"]
    test_ties = sum(o.human == "tie" for o in test)
    assert first["accuracy"]["pickscore"]["value"] == pytest.approx((test_ties + 0.5 * (len(test) - test_ties))
                                                                     / len(test))


def test_rerun_makes_no_calls(tmp_path):
    data = write_fixture("hpdv2", tmp_path / "fx")
    critic = CountingCritic()
    first = run(data, "hpdv2", [critic], tmp_path / "out", concurrency=3)
    pairs = first.metrics["dataset"]["pairs"]
    assert critic.judge_calls == 2 * pairs and critic.plan_calls == first.metrics["dataset"]["prompts"]
    again = CountingCritic()
    second = run(data, "hpdv2", [again], tmp_path / "out", concurrency=3)
    assert (again.judge_calls, again.plan_calls) == (0, 0)
    c1, c2 = first.metrics["critics"][0], second.metrics["critics"][0]
    assert c1["accuracy"] == c2["accuracy"] and c1["position"] == c2["position"]
    assert c2["usage"]["cached_judgements"] == 2 * pairs and c2["usage"]["fresh_calls_this_run"] == 0
    assert c1["latency"] == c2["latency"]  # cached answers keep the latency they were measured with


def test_interrupted_evaluation_resumes(tmp_path):
    data = write_fixture("imagereward", tmp_path / "fx")
    flaky = CountingCritic(fail_after=10)
    with pytest.raises(EvaluationStopped, match="'counting' is unreachable .*rerunning the same command resumes"):
        run(data, "imagereward", [flaky], tmp_path / "out", concurrency=1)
    assert flaky.judge_calls == 10
    resumed = CountingCritic()
    result = run(data, "imagereward", [resumed], tmp_path / "out", concurrency=1)
    pairs = result.metrics["dataset"]["pairs"]
    assert resumed.judge_calls == 2 * pairs - 10
    assert result.metrics["critics"][0]["accuracy"]["with_ties"]["value"] == 1.0


def test_concurrency_does_not_change_results(tmp_path):
    data = write_fixture("genai-bench", tmp_path / "fx", prompts=8)
    one = run(data, "genai-bench", ["scene", "scene"], concurrency=1, cache=False)
    many = run(data, "genai-bench", ["scene", "scene"], concurrency=4, cache=False)
    assert list(one.outcomes) == ["scene", "scene#2"]
    for label in one.outcomes:
        assert [(o.source, o.pred, o.delta) for o in one.outcomes[label]] == \
               [(o.source, o.pred, o.delta) for o in many.outcomes[label]]
    assert one.metrics["critics"][0]["accuracy"]["with_ties"]["value"] == 1.0


def test_planning_failures_count_as_parse_failures(tmp_path):
    data = pickapic(tmp_path / "d.parquet", ["a", "b"])
    result = run(data, "pickapic", [PlanRefused()], concurrency=1, cache=False)
    (c,) = result.metrics["critics"]
    assert c["failures"]["rate"] == 1.0 and c["failures"]["failed"] == 4
    assert c["failures"]["examples"][0]["error"] == "planning failed: the reply was not JSON"
    assert c["accuracy"]["no_ties"]["value"] == 0.0 and c["latency"]["n"] == 0


def test_critic_that_cannot_read_the_prompts(tmp_path):
    data = pickapic(tmp_path / "d.parquet", ["a"], captions=["a photo of a cat on a sofa"])
    with pytest.raises(CriticEvalError, match=r"critic 'scene' cannot judge the prompt of d\.parquet row 0"):
        run(data, "pickapic", ["scene"], cache=False)


def test_bad_options_are_input_errors(tmp_path):
    data = pickapic(tmp_path / "d.parquet", ["a"])
    with pytest.raises(CriticEvalError, match="--concurrency must be at least 1"):
        run(data, "pickapic", ["scene"], concurrency=0)
    with pytest.raises(CriticEvalError, match="no critic to evaluate"):
        run(data, "pickapic", [])
    with pytest.raises(CriticEvalError, match="gave no pairs"):
        empty = tmp_path / "e.parquet"
        pq.write_table(pa.Table.from_pylist([{"caption": "x", "jpg_0": b"", "jpg_1": b"", "label_0": 0.0,
                                              "label_1": 0.0, "has_label": False}]), empty)
        run(empty, "pickapic", ["scene"], cache=False)


def test_editing_a_critic_script_invalidates_its_cached_answers(tmp_path):
    data = pickapic(tmp_path / "d.parquet", ["a", "b"])
    script = tmp_path / "script.json"
    preds = []
    for prefer in ("first", "last"):  # same spec, same path, edited content
        script.write_text(json.dumps({"prefer": prefer, "then": "delegate"}))
        result = run(data, "pickapic", [f"scripted:{script}"], tmp_path / "out", concurrency=1)
        preds.append([(o.pred_ab, o.pred_ba) for o in result.outcomes[f"scripted:{script}"]])
    assert preds[0] == [("a", "b"), ("a", "b")]  # the image shown first, a then b
    assert preds[1] == [("b", "a"), ("b", "a")]  # the image shown last: fresh answers, not cached ones


def test_a_cache_file_that_is_not_a_cache(tmp_path):
    bad = tmp_path / "judgements.sqlite"
    bad.write_text("not a database, " * 100)
    data = pickapic(tmp_path / "d.parquet", ["a"])
    with pytest.raises(CriticEvalError, match="cannot open the judgement cache .* pass another --cache file"):
        run(data, "pickapic", ["scene"], cache=bad)
