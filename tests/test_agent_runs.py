"""Whole runs of the graph on the shapes model, steered by scripted critics.

The scripted critic states what the critic says; each test asserts what the agent does about it:
the action it picks, the tree it grows, when it backtracks and when it stops.
"""
from __future__ import annotations

import json

import pytest

from agent.critics.scripted import ScriptedCritic
from agent.lifecycle import Run, run_brief
from agent.locks import Busy
from agent.spec import RunSpec
from agent.tree import ROOT
from tools.errors import InputError

BRIEF = "a red circle to the left of a blue square, yellow background"
LEFT = [0.0, 0.3, 0.4, 0.7]
# The scripted critic stands in for a model critic, which the agent double-checks with witnesses;
# tests about edits, drift and stops take its word (witnesses are tested on their own below).
TRUSTING = {"confirm_accept": False, "confirm_failure": False}


def run(tmp_path, engine, script, checkpointer, budget=8, policy=None, mode="auto"):
    spec = RunSpec(brief=BRIEF, budget={"generations": budget}, policy={**TRUSTING, **(policy or {})}, mode=mode)
    return run_brief(spec, tmp_path, engine=engine, critic=ScriptedCritic(script), checkpointer=checkpointer)


def children(nodes, parent):
    return sorted((i for i, n in nodes.items() if n.get("parent") == parent), key=lambda i: nodes[i]["seq"])


def events(res):
    return [json.loads(line) for line in (res.run_dir / "events.jsonl").read_text().splitlines()]


def test_local_failure_is_inpainted_and_the_run_accepts(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": LEFT}}, {"pass": "all"}]}
    res = run(tmp_path, shapes_engine, script, checkpointer)
    nodes = res.state["nodes"]
    assert res.status == "accepted" and res.best == "n2"
    assert children(nodes, ROOT) == ["n1"] and children(nodes, "n1") == ["n2"]
    action = nodes["n2"]["action"]
    assert action["kind"] == "inpaint" and action["regions"][0] == dict(zip(("x0", "y0", "x1", "y1"), LEFT))
    assert nodes["n2"]["outside_change"] == 0.0  # the engine kept every pixel outside the mask
    # Files: images by content hash with their metadata, events, tree and report.
    for nid in ("n1", "n2"):
        img = res.run_dir / nodes[nid]["image"]
        meta = json.loads(img.with_suffix(".json").read_text())["records"][0]
        assert img.is_file() and meta["seed"] == nodes[nid]["seed"] and meta["model"]["revision"]
    kinds = [e["node"] for e in events(res)]
    assert kinds[0] == "plan" and kinds[-1] == "finish" and kinds.count("generate") == 2
    assert json.loads((res.run_dir / "tree.json").read_text())["best"] == "n2"
    assert "n2" in (res.run_dir / "report.html").read_text()
    assert res.state["spend"]["generations"] == 2


def test_drift_backtracks_and_makes_the_action_tabu(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [
        {"fail": ["g0.object"], "regions": {"g0.object": LEFT}},   # n1: a local failure
        {"fail": ["g1.object"]},                                    # n2 (inpaint): fixed it, lost the square
        {"fail": ["g0.left_of.g1"]}, {"pass": "all"}, {"fail": ["g0.object", "background"]},  # n3-n5 variations
    ]}
    res = run(tmp_path, shapes_engine, script, checkpointer)
    nodes = res.state["nodes"]
    assert nodes["n2"]["outcome"] == "drift" and nodes["n2"]["lost"] == ["g1.object"]
    # The inpaint that drifted is tabu at n1, and the next alternative starts from n1 again.
    tabu = nodes["n1"]["tabu"]
    assert len(tabu) == 1 and tabu[0].startswith("inpaint")
    assert children(nodes, "n1") == ["n2", "n3", "n4", "n5"]
    assert {nodes[i]["action"]["kind"] for i in ("n3", "n4", "n5")} == {"variations"}
    assert res.status == "accepted" and res.best == "n4"
    assert nodes["n4"]["sibling_rank"] == 0
    assert res.state["counters"]["drifts"] == 1 and res.state["counters"]["backtracks"] == 1
    back = [e for e in events(res) if e["node"] == "backtrack"]
    assert back and back[0]["to"] == "n1" and back[0]["away_from"] == "n2"


def test_global_failure_rewrites_and_rebuilds_with_img2img(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["background", "g0.left_of.g1"]}, {"pass": "all"}]}
    res = run(tmp_path, shapes_engine, script, checkpointer)
    n2 = res.state["nodes"]["n2"]
    assert n2["action"]["kind"] == "img2img" and n2["action"]["strength"] == 0.8
    assert n2["prompt"] != res.state["prompt"]  # the rules rewriter restated it, failing parts first
    assert res.status == "accepted"


def test_near_miss_makes_variations_and_keeps_the_best(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g1.object"]}, {"fail": ["g0.left_of.g1", "background"]},
                            {"pass": "all"}, {"fail": ["g1.object"]}]}
    res = run(tmp_path, shapes_engine, script, checkpointer)
    nodes = res.state["nodes"]
    sibs = children(nodes, "n1")
    assert sibs == ["n2", "n3", "n4"] and {nodes[i]["action"]["kind"] for i in sibs} == {"variations"}
    assert nodes["n3"]["sibling_rank"] == 0 and res.best == "n3" and res.status == "accepted"
    assert len({nodes[i]["seed"] for i in sibs}) == 3


def test_budget_stop_never_exceeds_the_budget(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g1.object"]}]}  # always a near miss
    res = run(tmp_path, shapes_engine, script, checkpointer, budget=5)
    assert res.status == "budget" and res.state["spend"]["generations"] == 5
    made = [n for n in res.state["nodes"].values() if n.get("image")]
    assert len(made) == 5
    assert len({n["seed"] for n in made}) == 5  # no action is ever repeated with the same seed
    assert res.best is not None and res.best_image.is_file()


def test_plateau_stops_a_run_without_a_generation_budget(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": LEFT}}]}
    spec = RunSpec(brief=BRIEF, budget={"generations": None, "seconds": 3600}, policy={"plateau_k": 3})
    res = run_brief(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script), checkpointer=checkpointer)
    assert res.status == "plateau" and res.state["since_best"] >= 3
    assert res.state["spend"]["generations"] < 20


def test_plateau_with_a_generation_budget_starts_new_images(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": LEFT}}]}
    res = run(tmp_path, shapes_engine, script, checkpointer, budget=10, policy={"plateau_k": 3})
    assert res.status == "budget" and res.state["spend"]["generations"] == 10
    restarts = [n for n in res.state["nodes"].values() if n.get("parent") == ROOT]
    assert len(restarts) >= 2  # the first image, then fresh ones once the plateau set in
    reasons = [e.get("reason", "") for e in events(res) if e["node"] == "decide"]
    assert any(r.startswith("plateau") for r in reasons)


def test_unreachable_critic_stops_cleanly_and_resume_finishes(tmp_path, shapes_engine):
    spec = RunSpec(brief=BRIEF, budget={"generations": 6}, policy=TRUSTING)
    down = ScriptedCritic({"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": LEFT}},
                                         {"error": "unavailable"}]})
    res = run_brief(spec, tmp_path, engine=shapes_engine, critic=down)
    assert res.status == "critic_unavailable" and "unreachable" in res.stop_reason
    # The image was made and kept; only its critique is owed.
    assert res.state["new_nodes"] == ["n2"] and "critique" not in res.state["nodes"]["n2"]
    assert res.state["spend"]["generations"] == 2
    # The server is back: reopening the folder with a working critic critiques that image, makes no
    # new one for it, and the run goes on from there.
    with Run.open(res.run_dir, engine=shapes_engine, critic=ScriptedCritic({"critiques": [{"pass": "all"}]})) as run:
        res = run.advance()
    assert res.status == "accepted" and res.best == "n2"
    assert res.state["spend"]["generations"] == 2
    evs = events(res)
    ids = [e["event_id"] for e in evs]
    assert len(ids) == len(set(ids))
    enter = next(i for i, e in enumerate(evs) if e["node"] == "enter")
    assert evs[enter]["was"] == "critic_unavailable"
    assert [e["node_id"] for e in evs[enter:] if e["node"] == "critique"] == ["n2"]
    assert not [e for e in evs[enter:] if e["node"] == "generate"]


def test_resume_can_switch_the_critic_and_raise_the_budget(tmp_path, shapes_engine):
    near = ScriptedCritic({"critiques": [{"fail": ["g1.object"]}]})
    res = run_brief(RunSpec(brief=BRIEF, budget={"generations": 2}, policy=TRUSTING), tmp_path,
                    engine=shapes_engine, critic=near)
    assert res.status == "budget"
    script = tmp_path / "pass.json"
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))
    with Run.open(res.run_dir, engine=shapes_engine, budget=4, critic_spec=f"scripted:{script}") as run:
        res = run.advance()
    info = json.loads((res.run_dir / "run.json").read_text())
    assert info["spec"]["budget"]["generations"] == 4 and info["spec"]["critic"] == f"scripted:{script}"
    assert info["critic_name"] == "scripted:pass.json"
    # Back at the best image, the run carries on (variations of the near miss, as many as the raised
    # budget allows), and the new critic passes the first new image it sees.
    assert res.status == "accepted" and res.state["spend"]["generations"] == 4
    assert [e["node"] for e in events(res)].count("enter") == 1


def test_unusable_replies_stop_after_repeated_failures(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"fail": ["g0.left_of.g1"]}, {"error": "reply"}]}
    res = run(tmp_path, shapes_engine, script, checkpointer)
    assert res.status == "critic_failed"
    failed = [n for n in res.state["nodes"].values() if n.get("critique_error")]
    assert len(failed) == 2  # one bad reply is survived, the second in a row stops the run
    assert res.state["spend"]["generations"] >= 2


def newest(res) -> dict:
    return max((n for n in res.state["nodes"].values() if n.get("image")), key=lambda n: n["seq"])


def test_chat_mode_is_driven_by_answers(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [
        {"fail": ["g0.object"]},                                                      # n1: a near miss
        {"fail": ["g0.object", "g1.object"]}, {"fail": ["g0.object"]}, {"fail": ["background"]},  # n2-n4
        {"pass": "all"},                                                              # n5, after the pick
        {"fail": ["g0.object"]},                                                      # n6, after feedback
        {"pass": "all"},                                                              # n7, a region redo
    ]}
    spec = RunSpec(brief=BRIEF, budget={"generations": 10}, mode="chat", policy=TRUSTING)
    with Run.start(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script),
                   checkpointer=checkpointer) as runner:
        res = runner.advance()
        assert res.status == "waiting" and res.question["node"] == "n1"
        assert {v["id"] for v in res.question["verdicts"] if not v["passed"]} == {"g0.object"}
        res = runner.advance({"action": "continue"})  # the agent decides: variations for a near miss
        variations = [v["node"] for v in res.question["variations"]]
        assert variations == ["n3", "n4", "n2"]  # best first: ties keep their order
        res = runner.advance({"action": "pick", "node": "n99"})  # not one of them: asked again
        assert "pick one of" in res.question["error"]
        res = runner.advance({"action": "pick", "node": "n4"})  # the person prefers the critic's second
        assert res.question["node"] == "n4" and res.state["picked"] == "n4"  # theirs now: asked, not acted on
        res = runner.advance({"action": "continue"})
        # From the picked node the agent goes on: its background failure is global, so it rebuilds.
        assert newest(res)["parent"] == "n4" and newest(res)["action"]["kind"] == "img2img"
        res = runner.advance({"action": "feedback", "text": "make the square bigger"})
        fed = newest(res)
        assert fed["action"]["kind"] == "img2img" and fed["action"]["source"] == "human"
        assert "make the square bigger" in res.state["hints"]
        res = runner.advance({"action": "region", "region": [0, 0, 0.5, 0.5], "prompt": "a red circle"})
        redo = newest(res)
        assert redo["action"]["kind"] == "inpaint" and redo["action"]["source"] == "human"
        assert redo["prompt"] == "a red circle" and redo["action"]["regions"][0]["x1"] == 0.5
        current = res.question["node"]
        res = runner.advance({"action": "accept"})
    assert res.status == "accepted" and res.best == current
    picks = [json.loads(line) for line in (res.run_dir / "picks.jsonl").read_text().splitlines()]
    assert len(picks) == 1
    nodes = res.state["nodes"]
    assert picks[0]["chosen"] == nodes["n4"]["image"]
    assert picks[0]["critic_preference"] == nodes["n3"]["image"]
    assert sorted(picks[0]["rejected"]) == sorted([nodes["n2"]["image"], nodes["n3"]["image"]])
    assert picks[0]["brief"] == BRIEF and picks[0]["critic"] == "scripted"
    assert picks[0]["node_ids"] == {"chosen": "n4", "rejected": ["n3", "n2"]}


def test_chat_vary_makes_variations_to_pick_from(tmp_path, shapes_engine, checkpointer):
    # The exact failure is a relation: the agent alone would rebuild, but the person asks for
    # variations, picks one, and the pick is recorded with the critic's own preference.
    script = {"critiques": [{"fail": ["g0.left_of.g1"]}, {"fail": ["g0.left_of.g1"]}, {"pass": "all"},
                            {"fail": ["g0.left_of.g1", "g1.object"]}]}
    spec = RunSpec(brief=BRIEF, budget={"generations": 6}, mode="chat", policy=TRUSTING)
    with Run.start(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script),
                   checkpointer=checkpointer) as runner:
        runner.advance()
        res = runner.advance({"action": "vary", "strength": "2"})  # out of range: asked again
        assert "strength" in res.question["error"]
        res = runner.advance({"action": "vary", "strength": "0.5"})
        sibs = children(res.state["nodes"], "n1")
        assert sibs == ["n2", "n3", "n4"]
        assert {res.state["nodes"][i]["action"]["kind"] for i in sibs} == {"variations"}
        assert res.state["nodes"]["n2"]["action"]["strength"] == 0.5
        assert res.state["nodes"]["n2"]["action"]["source"] == "human"
        assert [v["node"] for v in res.question["variations"]][0] == "n3"  # the critic's favourite first
        res = runner.advance({"action": "pick", "node": "n2"})
        res = runner.advance({"action": "stop"})
    pick = json.loads((res.run_dir / "picks.jsonl").read_text())
    nodes = res.state["nodes"]
    assert pick["chosen"] == nodes["n2"]["image"] and pick["critic_preference"] == nodes["n3"]["image"]


def test_report_shows_tree_checklist_and_best_path(tmp_path, shapes_engine):
    script = {"critiques": [{"fail": ["g0.object"], "regions": {"g0.object": LEFT}}, {"pass": "all"}]}
    res = run(tmp_path, shapes_engine, script, "sqlite")
    html = (res.run_dir / "report.html").read_text()
    assert html.count('class="card"') == 3  # the brief and two images
    assert "a repaint of a region" in html and "fails in one place" in html  # plain words, not the policy's
    for node in res.state["nodes"].values():
        if node.get("image"):
            assert f'src="{node["image"]}"' in html
    assert html.count('<li class="best">') == 3  # root -> n1 -> n2 is the best path
    assert "a red circle" in html and "✗" in html and "✓" in html


@pytest.mark.parametrize("brief", ["a blue square, white background",
                                   "a small red circle above a large green triangle, white background"])
def test_a_chat_run_answered_continue_grows_the_same_tree_as_an_autonomous_run(tmp_path, shapes_engine, brief):
    """The exact critic on real images: whatever the model draws, a run ends well-formed, and a person
    who only ever answers "continue" gets exactly the autonomous run (the studio's autopilot)."""
    from agent.critics.scene import SceneCritic

    auto = run_brief(RunSpec(brief=brief, budget={"generations": 4}), tmp_path / "auto", engine=shapes_engine,
                     critic=SceneCritic())
    assert auto.status in ("accepted", "budget")
    assert auto.state["spend"]["generations"] <= 4
    scored = [n["critique"]["score"] for n in auto.state["nodes"].values() if n.get("critique")]
    if auto.status == "budget":  # the answer is the best image the critic saw
        assert auto.state["nodes"][auto.best]["critique"]["score"] == max(scored)
    with Run.start(RunSpec(brief=brief, budget={"generations": 4}, mode="chat"), tmp_path / "chat",
                   engine=shapes_engine, critic=SceneCritic()) as run:
        res = run.advance()
        while res.waiting:
            res = run.advance({"action": "continue"})

    def made(r):
        return [(i, n.get("parent"), n["action"]["kind"], n["seed"], n["image_hash"])
                for i, n in sorted(r.state["nodes"].items()) if n.get("image")]

    assert made(res) == made(auto) and res.status == auto.status and res.best == auto.best


def test_a_pass_is_confirmed_by_a_witness_before_it_is_accepted(tmp_path, shapes_engine, checkpointer):
    script = {"critiques": [{"pass": "all"}, {"pass": "all"}]}  # the first image, then its witness
    spec = RunSpec(brief=BRIEF, budget={"generations": 8})
    res = run_brief(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script), checkpointer=checkpointer)
    nodes = res.state["nodes"]
    assert res.status == "accepted" and res.best == "n1" and nodes["n1"]["witnesses"] == ["n2"]
    witness = nodes["n2"]["action"]
    assert witness["kind"] == "variations" and witness["n"] == 1 and witness["check"] == "n1"
    assert nodes["n2"]["outcome"] == "confirmed" and res.state["spend"]["generations"] == 2


def test_witnesses_that_disagree_dispute_the_pass_and_the_agent_fixes_it(tmp_path, shapes_engine):
    fail = {"fail": ["g0.object"], "regions": {"g0.object": LEFT}}
    script = {"critiques": [
        {"pass": "all"}, fail,                  # n1 passes; its witness n2 fails the circle: a tie
        fail,                                   # n3, the second witness, fails it too: disputed
        {"pass": "all"}, {"pass": "all"},       # n4 (the fix, from n3) and its witness n5
    ]}
    spec = RunSpec(brief=BRIEF, budget={"generations": 8})
    res = run_brief(spec, tmp_path, engine=shapes_engine, critic=ScriptedCritic(script))
    nodes = res.state["nodes"]
    assert nodes["n1"]["witnesses"] == ["n2", "n3"] and nodes["n1"]["votes"]["g0.object"] == -2
    assert [nodes[i]["outcome"] for i in ("n2", "n3")] == ["tie", "disputed"]
    # The agent went on from the witness, where the critic points at the circle: an inpaint there.
    assert nodes["n4"]["parent"] == "n3" and nodes["n4"]["action"]["kind"] == "inpaint"
    assert nodes["n5"]["action"]["check"] == "n4" and nodes["n4"]["witnesses"] == ["n5"]
    assert res.status == "accepted" and res.best == "n4"
    counters = res.state["counters"]
    assert (counters["ties"], counters["disputes"], counters["confirmations"]) == (1, 1, 1)


def test_a_loss_the_pixels_contradict_is_not_drift(tmp_path, shapes_engine):
    # The critic claims a small repaint lost the background, and that the blue square is missing at a
    # place where no pixel changed: neither is believed, and the repaint counts as progress.
    script = {"critiques": [
        {"fail": ["g0.object"], "regions": {"g0.object": LEFT}},
        {"fail": ["background", "g1.object"], "regions": {"g1.object": [0.8, 0.0, 1.0, 0.15]}},
        {"pass": "all"},
    ]}
    res = run(tmp_path, shapes_engine, script, "memory", policy={"confirm_accept": True})
    n2 = res.state["nodes"]["n2"]
    assert n2["changed_share"] < 0.25 and n2["changed_box"]["x1"] <= 0.5  # the repaint stayed on the left
    assert n2.get("lost", []) == [] and sorted(n2["doubted"]) == ["background", "g1.object"]
    assert n2["outcome"] == "progress" and "drifts" not in res.state["counters"]
    # Believed to pass everything (the doubted failures hold as they did at n1), n2 gets a witness
    # rather than a repair.
    n3 = res.state["nodes"]["n3"]
    assert n3["parent"] == "n2" and n3["action"]["check"] == "n2" and res.best == "n2"
    # The result and the report show what the agent believes, and that it overruled the critic.
    shown = {v["id"]: (v["passed"], v["critic"]) for v in res.verdicts}
    assert shown["background"] == (True, False) and shown["g0.object"] == (True, True)
    assert "the critic said fail; overruled" in (res.run_dir / "report.html").read_text()


def test_continuing_from_an_image_without_a_critique_is_refused_and_the_run_stays_usable(tmp_path, shapes_engine):
    near = ScriptedCritic({"critiques": [{"fail": ["g1.object"]}]})
    res = run_brief(RunSpec(brief=BRIEF, budget={"generations": 2}, policy=TRUSTING), tmp_path,
                    engine=shapes_engine, critic=near)
    with Run.open(res.run_dir, engine=shapes_engine, critic=near) as run:
        with pytest.raises(InputError, match="no critique yet"):
            run.advance(reopen={"reason": "the person continues", "node": ROOT})
        with pytest.raises(InputError, match="no such node"):
            run.advance(reopen={"reason": "the person continues", "node": "n99"})
        # Nothing was saved for the refused answers: the run still continues from a real image.
        res = run.advance(reopen={"reason": "the person continues", "node": "n1"})
    assert [e["node_id"] for e in events(res) if e["node"] == "enter"] == ["n1"]


def test_a_resume_with_a_critic_that_cannot_be_built_leaves_run_json_as_it_was(tmp_path, shapes_engine):
    res = run_brief(RunSpec(brief=BRIEF, budget={"generations": 2}, policy=TRUSTING), tmp_path,
                    engine=shapes_engine, critic=ScriptedCritic({"critiques": [{"fail": ["g1.object"]}]}))
    before = (res.run_dir / "run.json").read_text()
    with pytest.raises(InputError):
        Run.open(res.run_dir, engine=shapes_engine, budget=6, critic_spec=f"scripted:{tmp_path / 'missing.json'}")
    assert (res.run_dir / "run.json").read_text() == before


def test_a_run_started_exclusively_holds_its_folder(tmp_path, shapes_engine):
    spec = RunSpec(brief=BRIEF, budget={"generations": 1}, policy=TRUSTING)
    critic = ScriptedCritic({"critiques": [{"fail": ["g1.object"]}]})
    with Run.start(spec, tmp_path, engine=shapes_engine, critic=critic, exclusive="sculpt run") as run:
        res = run.advance()
        with pytest.raises(Busy, match="sculpt run"):
            Run.open(res.run_dir, engine=shapes_engine, critic=critic, exclusive="sculpt resume")
    with Run.open(res.run_dir, engine=shapes_engine, critic=critic, exclusive="sculpt resume"):
        pass  # released when the first closed
