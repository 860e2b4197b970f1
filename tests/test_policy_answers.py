"""agent/policy/answers.py: what a person's answer does, with the clamps the agent's own moves get."""
from __future__ import annotations

from agent.answers import read_answer
from agent.policy import PolicyConfig
from agent.policy.answers import take
from agent.policy.config import Budget
from agent.status import Status
from tests.policy_states import BUDGET, CHECKLIST, crit, state

CFG = PolicyConfig()


def with_variations(spend: int = 4) -> dict:
    s = state(crit(["g0.object"]), spend={"generations": spend})
    for i, rank in ((2, 1), (3, 0), (4, 2)):
        s["nodes"][f"n{i}"] = {"id": f"n{i}", "seq": i, "parent": "n1", "origin": "n1", "step": 5, "image": f"{i}.png",
                               "sibling_rank": rank, "critique": crit([])}
    return s


def move(answer: dict, s: dict | None = None, budget: Budget = BUDGET, steps: int | None = 20):
    return take(read_answer(answer), s or state(crit(["g0.object"])), CFG, budget, steps)


def test_accept_and_stop_end_the_run_accept_makes_the_current_image_the_answer():
    m = move({"action": "accept"})
    assert (m.route, m.status, m.best) == ("finish", Status.ACCEPTED, "n1")
    m = move({"action": "stop"})
    assert (m.route, m.status, m.best) == ("finish", Status.STOPPED, None)
    assert move({"action": "continue"}).route == "decide"


def test_branch_moves_only_to_a_critiqued_image():
    s = with_variations()
    assert move({"action": "branch", "node": "n3"}, s).model_dump(include={"route", "current", "reason"}) == \
        {"route": "ask", "current": "n3", "reason": ""}
    refused = move({"action": "branch", "node": "root"}, s)
    assert refused.route == "ask" and refused.current is None and "critiqued image" in refused.reason


def test_a_pick_must_be_one_of_the_last_variations_and_becomes_current_and_the_persons_answer():
    s = with_variations()
    assert move({"action": "pick", "node": "n4"}, s).model_dump(include={"route", "current", "picked"}) == \
        {"route": "ask", "current": "n4", "picked": "n4"}  # the person's word: asked again, not acted on
    refused = move({"action": "pick", "node": "n1"}, s)
    assert refused.route == "ask" and "n3, n2, n4" in refused.reason  # the batch, best first


def test_vary_takes_the_persons_strength_and_fits_the_budget_as_the_agent_does():
    m = move({"action": "vary", "strength": 0.6})
    assert m.route == "generate" and (m.action.kind, m.action.n, m.action.strength) == ("variations", 3, 0.6)
    assert m.action.source == "human"
    assert move({"action": "vary"}).action.strength == CFG.variation_strength  # the policy's default
    two_left = move({"action": "vary"}, state(crit([]), spend={"generations": 6}))
    assert (two_left.action.kind, two_left.action.n) == ("variations", 2)
    one_left = move({"action": "vary", "strength": 0.5}, state(crit([]), spend={"generations": 7}))
    assert (one_left.action.kind, one_left.action.strength, one_left.action.source) == ("img2img", 0.5, "human")
    spent = move({"action": "vary"}, state(crit([]), spend={"generations": 8}))
    assert spent.route == "ask" and "budget spent" in spent.reason


def test_a_strength_that_runs_no_denoising_step_is_refused_not_raised_behind_the_persons_back():
    m = move({"action": "vary", "strength": 0.05}, steps=10)
    assert m.route == "ask" and "use at least 0.1" in m.reason and m.action is None


def test_feedback_rebuilds_after_a_rewrite_at_the_rebuild_strength():
    m = move({"action": "feedback", "text": "make it bolder"})
    assert (m.route, m.rewrite, m.action.kind, m.action.strength) == ("rewrite_prompt", "prompt", "img2img",
                                                                      CFG.rebuild_strength)
    assert move({"action": "feedback", "text": "x"}, steps=1).action.strength == 1.0  # one step: all of it


def test_a_region_with_its_prompt_is_completed_like_the_agents_inpaints():
    box = [0.1, 0.1, 0.4, 0.4]
    m = move({"action": "region", "region": box, "prompt": "a red circle"}, steps=1)
    assert m.route == "generate" and m.action.guide["colour"] == "red"
    assert m.action.strength == 1.0  # guided 0.5 would run no step at 1 step: raised, as decide does
    assert move({"action": "region", "region": box, "prompt": "a red circle"}).action.strength == \
        CFG.guided_inpaint_strength
    m = move({"action": "region", "region": box})
    assert (m.route, m.rewrite) == ("rewrite_prompt", "region")


def test_an_edit_that_lost_a_requirement_waits_for_the_persons_word():
    s = state(crit(["g1.object"]), amend_question={
        "question": "keep “a blue square”?", "node": "n2", "origin": "n1", "lost": ["g1.object"],
        "amendment": {"by": "person", "replaced": [CHECKLIST[1]], "version": 1}})
    s["nodes"]["n2"] = {"id": "n2", "seq": 2, "parent": "n1", "origin": "n1", "image": "2.png", "critique": crit([])}
    go_on = move({"action": "continue"}, s)
    assert go_on.route == "ask" and "keep “a blue square”?" in go_on.reason  # the agent may not decide this
    keep = move({"action": "amend", "keep": "change"}, s)
    assert (keep.route, keep.judge, [r.id for r in keep.amendment.replaced]) == ("critique", ["n2"], ["g1.object"])
    back = move({"action": "amend", "keep": "brief"}, s)
    assert (back.route, back.current, back.node_updates) == ("ask", "n1", {"n2": {"outcome": "drift",
                                                                                   "lost": ["g1.object"]}})
    assert "no change to the brief" in move({"action": "amend", "keep": "change"}).reason


def test_going_back_to_an_image_judged_before_the_brief_changed_judges_it_again():
    s = with_variations()
    s["checklist_version"] = 1
    s["nodes"]["n3"]["judged_on"] = 1
    assert move({"action": "branch", "node": "n3"}, s).route == "ask"  # judged against the brief as it is
    again = move({"action": "branch", "node": "n2"}, s)
    assert (again.route, again.judge, again.rejudge, again.current) == ("critique", ["n2"], True, "n2")


def test_without_an_image_there_is_nothing_to_accept_vary_or_repaint():
    s = state(crit([]))
    s["current"] = "root"
    for answer in ({"action": "accept"}, {"action": "vary"}, {"action": "region", "region": [0, 0, .5, .5]}):
        assert "no image here yet" in move(answer, s).reason
    assert move({"action": "continue"}, s).route == "decide"
