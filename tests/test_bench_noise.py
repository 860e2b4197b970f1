"""What a fallible critic got wrong, checked by hand: false drifts, the backtracks they caused and
false accepts, on a hand-made agent run folder whose images are rendered shapes scenes (so the exact
judge's verdicts are known); and the options of a noise sweep and of the agent's policy, refused at
the edge with the key named. No engine runs here."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.contracts import Action, Region
from agent.run_files import RunInfo
from agent.spec import RunSpec
from agent.tree import ROOT, CritiqueSummary, TreeNode, root_node
from evals.bench.config import BenchConfig, parse_policy
from evals.bench.errors import BenchError
from evals.bench.false_alarms import drift_audit
from evals.bench.judge import ExactJudge, store_image
from evals.bench.metrics import false_accepts, summarize
from evals.bench.sweep import SweepConfig
from tools.shapes.parse import parse_brief
from tools.shapes.render import render

BRIEF = "a red circle, blue background"  # requirements g0.object and background


def _image(run, text, seed):
    """A rendered scene for ``text``, stored in the run folder: (run-relative path, hash)."""
    image, _ = render(parse_brief(text), np.random.default_rng(seed))
    return store_image(run, image)


def _node(node_id, seq, origin, image, passed, failed, outcome=None, lost=(), kind="img2img"):
    path, digest = image
    action = Action(kind=kind, strength=None if kind == "txt2img" else 0.5,
                    regions=[Region(x0=0.1, y0=0.1, x1=0.5, y1=0.5)] if kind == "inpaint" else [])
    return TreeNode(id=node_id, seq=seq, parent=origin, origin=origin, action=action, image=path, image_hash=digest,
                    critique=CritiqueSummary(score=len(passed) / 2, passed=passed, failed=failed),
                    outcome=outcome, lost=list(lost)).to_state()


@pytest.fixture
def run_folder(tmp_path):
    """An agent run driven by a lying critic. Exact truth: good* pass everything, green misses the red
    circle (g0.object), yellow has the wrong background.

    n1 good (txt2img) -> n2 good: drift claimed, g0.object "lost" but it holds at n2 (false; 1 backtrack)
    n1 -> n3 green: drift claimed, g0.object lost, truly (real; 1 backtrack)
    n4 yellow (txt2img) -> n5 yellow: drift claimed, background "lost" but it never held (false; no backtrack)
    n1 -> n6 good: drift by pixels outside the mask, and a requirement said lost (not false)
    n1 -> n7 good: drift without a lost requirement (outside the mask only): not a claimed drift
    n1 -> n8 green, n1 -> n9 good: a loss of g0.object claimed and doubted by the agent (no drift);
       the doubt was wrong at n8 (really lost) and right at n9
    """
    run = tmp_path / "run"
    good, good2 = _image(run, BRIEF, 1), _image(run, BRIEF, 2)
    green, yellow = _image(run, "a green square, blue background", 3), _image(run, "a red circle, yellow background", 4)
    yellow2 = _image(run, "a red circle, yellow background", 5)
    both = ["g0.object", "background"]
    nodes = {ROOT: root_node(BRIEF).to_state(),
             "n1": _node("n1", 1, ROOT, good, both, [], kind="txt2img"),
             "n2": _node("n2", 2, "n1", good2, ["background"], ["g0.object"], "drift", ["g0.object"]),
             "n3": _node("n3", 3, "n1", green, ["background"], ["g0.object"], "drift", ["g0.object"]),
             "n4": _node("n4", 4, ROOT, yellow, both, [], kind="txt2img"),
             "n5": _node("n5", 5, "n4", yellow2, ["g0.object"], ["background"], "drift", ["background"]),
             "n6": {**_node("n6", 6, "n1", good2, ["background"], ["g0.object"], "drift", ["g0.object"],
                            kind="inpaint"), "outside_change": 0.2},
             "n7": {**_node("n7", 7, "n1", good2, both, [], "drift", [], kind="inpaint"), "outside_change": 0.2},
             "n8": {**_node("n8", 8, "n1", green, both, [], "progress"), "doubted": ["g0.object"]},
             "n9": {**_node("n9", 9, "n1", good2, both, [], "progress"), "doubted": ["g0.object"]}}
    (run / "run.json").write_text(RunInfo(run_id="run", created="2026", spec=RunSpec(brief=BRIEF)).model_dump_json())
    (run / "tree.json").write_text(json.dumps({"nodes": nodes}))
    events = [{"event_id": "9:backtrack", "node": "backtrack", "to": "n1", "away_from": "n2", "outcome": "drift",
               "reason": "lost g0.object that held at n1"},
              {"event_id": "14:backtrack", "node": "backtrack", "to": "n1", "away_from": "n3", "outcome": "drift",
               "reason": "lost g0.object that held at n1"},
              {"event_id": "20:backtrack", "node": "backtrack", "to": "n1", "away_from": "n2",
               "outcome": "stagnation", "reason": "3 steps below the best node"}]  # not caused by the drift
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def test_a_drift_the_exact_judge_denies_is_false_and_a_real_one_is_not(run_folder):
    judge = ExactJudge()
    audit = drift_audit(run_folder, BRIEF, judge)
    by_node = {d["node"]: d for d in audit["details"]}
    assert list(by_node) == ["n2", "n3", "n5", "n6"]  # creation order; n7 claimed no requirement
    assert by_node["n2"] == {"node": "n2", "origin": "n1", "claimed_lost": ["g0.object"], "lost": [],
                             "held_at_child": ["g0.object"], "not_held_at_origin": [], "outside_mask": False,
                             "false": True, "backtracks": 1}
    assert by_node["n3"]["lost"] == ["g0.object"] and not by_node["n3"]["false"] and by_node["n3"]["backtracks"] == 1
    assert by_node["n5"]["not_held_at_origin"] == ["background"] and by_node["n5"]["false"]
    assert by_node["n5"]["backtracks"] == 0
    assert by_node["n6"]["outside_mask"] and not by_node["n6"]["false"]  # the pixels really changed
    assert (audit["drifts"], audit["false_drifts"], audit["false_drift_backtracks"]) == (4, 2, 1)
    assert (audit["doubted_losses"], audit["doubted_wrongly"]) == (2, 1)
    assert judge.fresh == 5  # each image judged once (good2 is the child of three nodes)


def test_false_drifts_and_false_accepts_aggregate_over_briefs(run_folder):
    audit = drift_audit(run_folder, BRIEF, ExactJudge())
    shot = {"exact": {"ok": True, "failed": []}}
    records = [  # claimed by the critic and right; claimed and wrong; not claimed; no critic at all
        {"all_correct": True, "claimed": True, "drift_audit": audit},
        {"all_correct": False, "claimed": True, "drift_audit": {"drifts": 1, "false_drifts": 0,
                                                                "false_drift_backtracks": 0}},
        {"all_correct": False, "claimed": False, "drift_audit": {"drifts": 0, "false_drifts": 0,
                                                                 "false_drift_backtracks": 0}},
        {"all_correct": True, "claimed": None, "drift_audit": {"drifts": 0, "false_drifts": 0,
                                                               "false_drift_backtracks": 0}},
    ]
    fa = false_accepts(records)
    assert (fa["count"], fa["claimed"], fa["rate"]) == (1, 2, 0.5)
    assert false_accepts([{"all_correct": True, "claimed": None}]) == {"count": 0, "claimed": 0, "rate": None,
                                                                        "ci": None}
    for r in records:
        r.update(method="agent", difficulty=2, brief_id="x", success_by_k=[r["all_correct"]], calls=1,
                 calls_to_success=1 if r["all_correct"] else None, shots=[shot], final=0, checklist=[],
                 usage={"critic_calls": 2, "tokens": 0, "usd": 0.0},
                 info={"drifts": 1, "backtracks": 1, "steps": 4, "status": "accepted"})
    records[1]["info"]["status"] = "budget"  # the agent's own claim is accepting: 1 accepted, right
    agent = summarize(records, budget=1)["agent"]
    fd = agent["false_drifts"]
    assert (fd["drifts"], fd["count"], fd["rate"]) == (5, 2, 0.4)
    assert fd["per_brief"]["total"] == 2 and fd["backtracks"]["total"] == 1
    assert (agent["false_acceptances"]["count"], agent["false_acceptances"]["claimed"]) == (1, 3)


def test_agent_policy_is_validated_and_typed():
    assert parse_policy("retries=1, follow_critic=true,variation_strength=0.50") == {
        "follow_critic": True, "retries": 1, "variation_strength": 0.5}
    assert parse_policy(None) == {} and parse_policy("") == {}
    with pytest.raises(BenchError, match="unknown setting 'retry'.*retries"):
        parse_policy("retry=1")
    with pytest.raises(BenchError, match="--agent-policy retries: .*greater than or equal to 1.*'0'"):
        parse_policy("retries=0")
    with pytest.raises(BenchError, match="KEY=VALUE pairs"):
        parse_policy("retries")
    with pytest.raises(BenchError, match="sets 'retries' twice"):
        parse_policy("retries=1,retries=2")
    with pytest.raises(BenchError, match="unknown setting 'nope'"):
        BenchConfig(agent_policy={"nope": 1}).validate()
    config = BenchConfig(agent_policy=parse_policy("retries=1,follow_critic=false"))
    assert "--agent-policy follow_critic=false,retries=1" in config.command()


@pytest.mark.parametrize("levels, options, message", [
    ((), "", "--critic-noise takes critic error rates"),
    ((0, 1.5), "", "shares of wrong verdicts, 0 to 1; got 1.5"),
    ((0.1, 0.10), "", "gives a rate twice"),
    ((0, 0.1), "loud=2", "--noise-options takes OPTION=VALUE pairs.*'loud=2'"),
    ((0, 0.1), "yes=0.7:scene", "--noise-options takes OPTION=VALUE"),
    ((0, 0.1), "yes=2", "noisy critic yes must be between 0 and 1"),
    ((0,), "yes=0.5", "every --critic-noise rate is 0"),
])
def test_bad_sweeps_are_refused(levels, options, message, tmp_path):
    with pytest.raises(BenchError, match=message):
        SweepConfig(bench=BenchConfig(out=tmp_path / "out"), levels=levels, noise_options=options).validate()


def test_a_sweep_has_no_use_for_a_critic_server(tmp_path):
    bench = BenchConfig(out=tmp_path / "out", critic_base_url="http://127.0.0.1:9")
    with pytest.raises(BenchError, match="--critic-base-url has no critic to go to"):
        SweepConfig(bench=bench, levels=(0, 0.1)).validate()


def test_a_sweep_and_a_plain_benchmark_keep_to_their_own_folders(tmp_path):
    (tmp_path / "plain" / "records").mkdir(parents=True)
    with pytest.raises(BenchError, match="holds a plain benchmark"):
        SweepConfig(bench=BenchConfig(out=tmp_path / "plain"), levels=(0, 0.1)).validate()
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    with pytest.raises(BenchError, match="holds a noise sweep"):
        BenchConfig(out=tmp_path / "sweep").validate()


@pytest.mark.parametrize("args, message", [
    (["--critic-noise", "0,0.1", "--critic", "scene"], "--critic-noise and --critic cannot be used together"),
    (["--noise-options", "yes=0.7"], "--noise-options applies to the levels of a --critic-noise sweep"),
    (["--critic-noise", "0,x"], "--critic-noise takes numbers"),
    (["--agent-policy", "retries=1,no_such_rule=2"], "unknown setting 'no_such_rule'"),
    (["--critic-noise", "0,0.1", "--agent-policy", "stagnation_k=0"], "--agent-policy stagnation_k"),
])
def test_the_command_refuses_bad_sweeps_and_policies_in_one_line(args, message, tmp_path):
    from agent.cli import sculpt_app

    result = CliRunner().invoke(sculpt_app(), ["bench", *args, "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before anything was written
