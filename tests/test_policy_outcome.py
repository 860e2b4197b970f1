"""Did it help or drift (agent/policy/outcome.py), on hand-built trees: each outcome rule, where it
must fire and where it must not, and what it changes at the origin."""
from __future__ import annotations

from agent.contracts import Action, Region
from agent.policy import PolicyConfig, belief, judge
from agent.policy.outcome import judge_unjudged, needs_drift_check
from agent.policy.witness import judge_witness
from agent.policy.tabu import action_class
from agent.tree import ROOT, Tree, TreeNode
from tests.policy_states import IDS, crit, state

CFG = PolicyConfig()
VARY = Action(kind="variations", n=3, strength=0.35, seeds=[5, 6, 7])
IMG2IMG = Action(kind="img2img", strength=0.8, seeds=[5])
INPAINT = Action(kind="inpaint", strength=0.5, regions=[Region(x0=0.1, y0=0.1, x1=0.4, y1=0.4)], seeds=[5])
RESTART = Action(kind="txt2img", prompt="p", seeds=[5])


def tree(origin_failed, child_failed, action, *, child=None, best_failed=None, origin_extra=None):
    """root -> n1 (the origin) -> n2 (the child, made by ``action``); optionally n0, an earlier best."""
    nodes = {ROOT: {"id": ROOT},
             "n1": {"id": "n1", "seq": 1, "parent": ROOT, "image": "a.png", "critique": crit(failed=origin_failed),
                    **(origin_extra or {})},
             "n2": {"id": "n2", "seq": 2, "parent": ROOT if action.kind == "txt2img" else "n1", "origin": "n1",
                    "image": "b.png", "critique": crit(failed=child_failed), "action": action.to_state(),
                    **(child or {})}}
    if best_failed is not None:
        nodes["n0"] = {"id": "n0", "seq": 3, "parent": ROOT, "image": "c.png", "critique": crit(failed=best_failed)}
    return Tree(nodes)


def run(t, action, lost=(), **state):
    return judge(t, "n1", "n2", action, list(lost), {"best": "n1", "current": "n1", **state}, CFG)


def test_progress_moves_to_the_new_image():
    j = run(tree(["g0.object", "background"], ["background"], VARY), VARY)
    assert j.outcome == "progress" and j.current == "n2" and j.best == "n2" and j.backtrack_to is None
    assert "g0.object" in j.reason and j.since_best == 0


def test_lost_requirement_is_drift_tabu_lower_strength_and_a_return():
    t = tree(["g0.object"], ["g0.object", "background"], VARY)
    j = run(t, VARY, lost=["background"])
    assert j.outcome == "drift" and j.counters == {"drifts": 1}
    assert j.backtrack_to == "n1" and j.current == "n1"
    origin = j.node_updates["n1"]
    assert origin["tabu"] == [action_class(VARY)] and origin["failures"] == {"variations": 1}
    assert origin["strengths"] == {"variations": round(0.35 - CFG.strength_step, 2)}  # it broke things: gentler
    assert j.node_updates["n2"] == {"outcome": "drift", "lost": ["background"]}


def test_drift_returns_to_the_best_node_when_the_lost_requirements_hold_there():
    t = tree(["g0.object", "background"], ["g0.object", "g1.object"], IMG2IMG, best_failed=[])
    j = judge(t, "n1", "n2", IMG2IMG, ["g1.object"], {"best": "n0", "current": "n1"}, CFG)
    assert j.outcome == "drift" and j.backtrack_to == "n0"
    # ... and to the origin when they do not hold at the best node either.
    t = tree(["g0.object"], ["g0.object", "background"], IMG2IMG, best_failed=["background"])
    j = judge(t, "n1", "n2", IMG2IMG, ["background"], {"best": "n0", "current": "n1"}, CFG)
    assert j.backtrack_to == "n1"


def test_drift_that_is_still_the_best_image_stays_there():
    t = tree(["g0.object", "g1.object"], ["background"], VARY)  # lost background, gained two: score up
    j = run(t, VARY, lost=["background"])
    assert j.outcome == "drift" and j.best == "n2" and j.current == "n2" and j.backtrack_to is None


def test_an_inpaint_that_changed_pixels_outside_its_mask_drifted():
    t = tree(["g0.object"], [], INPAINT, child={"outside_change": 0.02})
    j = run(t, INPAINT)
    assert j.outcome == "drift" and "outside the mask" in j.reason
    # Within the tolerance (feathered edges) it is not drift.
    t = tree(["g0.object"], [], INPAINT, child={"outside_change": CFG.outside_tolerance / 2})
    assert run(t, INPAINT).outcome == "progress"


def test_a_restart_is_never_drift_and_a_fresh_branch_when_as_good():
    t = tree(["g0.object"], ["g1.object"], RESTART)  # lost g1 but gained g0: as good, a fresh branch
    j = run(t, RESTART)
    assert j.outcome == "fresh" and j.current == "n2" and j.since_best == 0
    assert not needs_drift_check(t["n1"], RESTART) and needs_drift_check(t["n1"], VARY)


def test_a_worse_restart_is_no_progress():
    t = tree(["g0.object"], ["g0.object", "g1.object"], RESTART)
    j = run(t, RESTART)
    assert j.outcome == "no-progress" and j.current == "n1"
    assert j.node_updates["n1"]["tries"] == {action_class(RESTART): 1}


def test_an_edit_that_changed_too_little_raises_the_strength():
    t = tree(["g0.object"], ["g0.object"], IMG2IMG, child={"change": 0.005})
    j = run(t, IMG2IMG)
    assert j.outcome == "no-progress" and "strength goes up" in j.reason
    assert j.node_updates["n1"]["strengths"] == {"img2img": round(0.8 + CFG.strength_step, 2)}
    assert j.node_updates["n1"]["tries"] == {action_class(IMG2IMG): 1}
    # An edit that moved the image but fixed nothing keeps its strength.
    t = tree(["g0.object"], ["g0.object"], IMG2IMG, child={"change": 0.2})
    assert "strengths" not in run(t, IMG2IMG).node_updates["n1"]


def test_stagnation_below_the_best_returns_to_it():
    t = tree(["g0.object"], ["g0.object"], IMG2IMG, best_failed=[], child={"change": 0.2})
    state = {"best": "n0", "current": "n1", "below_best": CFG.stagnation_k - 1}
    j = judge(t, "n1", "n2", IMG2IMG, [], state, CFG)
    assert j.outcome == "stagnation" and j.backtrack_to == "n0" and str(CFG.stagnation_k) in j.reason
    j = judge(t, "n1", "n2", IMG2IMG, [], {**state, "below_best": CFG.stagnation_k - 2}, CFG)
    assert j.outcome == "no-progress" and j.backtrack_to is None and j.below_best == CFG.stagnation_k - 1


def test_the_best_node_needs_a_strictly_higher_score():
    t = tree(["g0.object"], ["g1.object"], VARY)  # as good, not better
    j = run(t, VARY, lost=[])
    assert j.best == "n1"
    assert j.outcome == "progress"  # it gained g0.object: something new holds


def test_an_unjudged_batch_counts_a_try_and_moves_nothing():
    t = tree(["g0.object"], ["g0.object"], VARY)
    j = judge_unjudged(t, "n1", VARY, {"best": "n1", "current": "n1", "since_best": 2})
    assert j.current == "n1" and j.since_best == 3
    assert j.node_updates["n1"]["tries"] == {action_class(VARY): 1}


def test_the_start_image_is_checked_for_drift_like_any_image():
    start = TreeNode(id=ROOT, image="mine.png", critique=crit(failed=IDS[:1]))
    assert needs_drift_check(start, VARY) and not needs_drift_check(TreeNode(id=ROOT), VARY)


def witness_tree(node_failed, witness_failed, votes=None, witnesses=()):
    return Tree({ROOT: {"id": ROOT},
                 "n1": {"id": "n1", "seq": 1, "parent": ROOT, "image": "a.png", "critique": crit(failed=node_failed),
                        "votes": votes or {}, "witnesses": list(witnesses)},
                 "n2": {"id": "n2", "seq": 2, "parent": "n1", "image": "b.png", "critique": crit(failed=witness_failed),
                        "action": Action(kind="variations", n=1, strength=0.25, check="n1").to_state()}})


def test_a_witness_that_agrees_confirms():
    from agent.policy.witness import judge_witness

    j = judge_witness(witness_tree([], []), "n1", "n2", {"best": "n1"})
    assert j.outcome == "confirmed" and j.current == "n1"
    assert j.node_updates["n1"] == {"votes": {i: 1 for i in IDS}, "witnesses": ["n2"]}


def test_one_dissenting_witness_is_a_tie_and_two_are_a_dispute():
    from agent.policy.witness import judge_witness

    j = judge_witness(witness_tree([], ["g0.object"]), "n1", "n2", {"best": "n1"})
    assert j.outcome == "tie" and j.current == "n1" and "g0.object" in j.reason
    # The second witness (here n2 again, against the first one's votes) fails it too: disputed.
    t = witness_tree([], ["g0.object"], votes={**{i: 1 for i in IDS}, "g0.object": -1}, witnesses=["n0"])
    j = judge_witness(t, "n1", "n2", {"best": "n1"})
    assert j.outcome == "disputed" and j.current == "n2"
    node = t["n1"].model_copy(update=j.node_updates["n1"])
    assert belief.failed(node) == ["g0.object"] and belief.score(node) == 0.75


def test_a_claimed_loss_where_no_pixel_changed_is_doubted_only_for_a_fallible_critic():
    from agent.policy.outcome import doubtful_losses

    kinds = {"background": "background", "g1.object": "object", "g0.object": "object"}
    child = TreeNode(id="n2", critique=crit(failed=["background", "g1.object", "g0.object"],
                                            regions={"g1.object": {"x0": 0.7, "y0": 0.7, "x1": 0.9, "y1": 0.9},
                                                     "g0.object": {"x0": 0.1, "y0": 0.1, "x1": 0.3, "y1": 0.3}}),
                     changed_share=0.1, changed_box=Region(x0=0.0, y0=0.0, x1=0.4, y1=0.4))
    claimed = ["background", "g1.object", "g0.object"]
    # The background (a small repaint cannot change it) and the square (its region lies where nothing
    # changed) are doubted; the circle, where the pixels did change, is a loss.
    assert doubtful_losses(child, claimed, kinds, CFG, trust_critic=False) == ["background", "g1.object"]
    assert doubtful_losses(child, claimed, kinds, CFG, trust_critic=True) == []
    assert doubtful_losses(child, claimed, kinds, PolicyConfig(doubt_drift=False), trust_critic=False) == []
    # A whole-image edit changes everything: nothing to contradict.
    everywhere = child.model_copy(update={"changed_share": 0.9, "changed_box": Region(x0=0, y0=0, x1=1, y1=1)})
    assert doubtful_losses(everywhere, claimed, kinds, CFG, trust_critic=False) == []


def test_a_change_below_the_decoding_noise_is_no_change():
    from PIL import Image

    from agent.policy.outcome import CHANGED, measure_change

    a = Image.new("RGB", (10, 10), (100, 100, 100))
    b = a.copy()
    b.putpixel((2, 3), (100 + CHANGED, 100, 100))  # at the threshold: noise
    assert measure_change(a, b)["changed_box"] is None and measure_change(a, b)["changed_share"] == 0
    b.putpixel((7, 8), (100 + CHANGED + 1, 100, 100))
    m = measure_change(a, b)
    assert m["changed_share"] == 0.01 and m["changed_box"] == {"x0": 0.7, "y0": 0.8, "x1": 0.8, "y1": 0.9}
    assert measure_change(a, Image.new("RGB", (5, 5)))["change"] == 1.0  # another size: all changed


def test_a_tool_error_bans_the_action_where_the_next_decision_looks_for_it():
    from agent.policy.outcome import after_tool_error, tool_error_site

    t = state(crit(["g0.object"]))
    tree = Tree(t["nodes"])
    txt = Action(kind="txt2img", prompt="p")
    edit = Action(kind="img2img", strength=0.8)
    assert tool_error_site(txt, "n1") == ROOT and tool_error_site(edit, "n1") == "n1"
    update = after_tool_error(tree["n1"], edit, "CUDA out of memory" + "!" * 400)
    assert update["tabu"] == [action_class(edit)] and update["failures"] == {"img2img": 1}
    assert update["tool_errors"][0].startswith("img2img: CUDA out of memory") and len(update["tool_errors"][0]) == 300


def test_losses_are_what_held_and_now_fails():
    from agent.policy.outcome import losses

    assert losses(["g0.object", "background"], ["background", "g1.object"]) == ["background"]
    assert losses([], ["background"]) == []
