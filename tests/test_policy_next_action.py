"""What to do next (agent/policy/next_action.py), on hand-built states: which action each kind of
critique leads to, and why."""
from __future__ import annotations

import pytest

from agent.contracts import Action
from agent.policy import Budget, PolicyConfig
from agent.policy import next_move as decide_with_budget
from agent.policy.stopping import before_action
from agent.policy.tabu import action_class, mark_tabu
from agent.tree import ROOT, TreeNode
from tests.policy_states import BOX, BRIEF, BUDGET, IDS, crit, state

CFG = PolicyConfig()


def decide(s, cfg, budget=BUDGET, trust_critic=True):
    return decide_with_budget(s, cfg, budget, trust_critic=trust_critic)


def test_first_step_is_txt2img_from_the_prompt():
    s = state(None)
    s["current"] = ROOT
    d = decide(s, CFG)
    assert d.route == "generate" and d.action.kind == "txt2img" and d.action.prompt == BRIEF.text()


def test_all_pass_is_accepted():
    d = decide(state(crit()), CFG)
    assert d.route == "accept" and "all 4 requirements pass" in d.reason


def test_local_failure_inpaints_the_defect_region_with_its_prompt():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "turn x into y",
              "prompt": "a red circle at top left, yellow background"}
    d = decide(state(crit(failed=["g0.object", "g0.left_of.g1"], defects=[defect])), CFG)
    assert d.route == "generate" and d.action.kind == "inpaint"
    assert d.action.regions[0].as_tuple() == (0.1, 0.1, 0.4, 0.4)
    assert d.action.prompt == "a red circle at top left, yellow background"
    assert "local failure" in d.reason and "g0.object" in d.reason


def test_local_fix_without_prompt_asks_the_rewriter_for_a_region_prompt():
    defect = {"kind": "add", "region": BOX, "requirement_ids": ["g1.object"], "description": "add"}
    d = decide(state(crit(failed=["g1.object"], defects=[defect])), CFG)
    assert d.route == "generate" and d.rewrite == "region" and d.action.kind == "inpaint"


def test_removal_and_addition_of_one_object_are_one_inpaint():
    remove = {"kind": "remove", "region": BOX, "requirement_ids": ["g0.left_of.g1"], "description": "remove",
              "prompt": "yellow background"}
    add = {"kind": "add", "region": {"x0": 0.0, "y0": 0.3, "x1": 0.3, "y1": 0.6},
           "requirement_ids": ["g0.left_of.g1"], "description": "add", "prompt": "a red circle at left"}
    d = decide(state(crit(failed=["g0.left_of.g1"], defects=[remove, add])), CFG)
    assert d.action.kind == "inpaint" and len(d.action.regions) == 2
    assert d.action.prompt == "a red circle at left"  # what to draw, not what to clear
    # Where to draw comes first: the colour guide centres its blob on the first region.
    assert d.action.regions[0].as_tuple() == (0.0, 0.3, 0.3, 0.6)
    assert d.action.strength == CFG.guided_inpaint_strength
    assert decide(state(crit(failed=["g0.left_of.g1"], defects=[remove, add])),
                  PolicyConfig(inpaint_guide=False)).action.strength == CFG.inpaint_strength


def test_near_miss_without_region_makes_variations_at_low_strength():
    d = decide(state(crit(failed=["g0.object"])), CFG)  # score 0.75, nothing to point at
    assert d.route == "generate" and d.action.kind == "variations"
    assert d.action.n == CFG.variations_n and d.action.strength == CFG.variation_strength


def test_layout_near_miss_without_region_samples_afresh_instead_of_varying_or_rebuilding():
    # Low-strength variations keep the layout and a rebuild keeps the broad layout: neither fixes a
    # relation, so without a region to repaint the agent samples afresh.
    d = decide(state(crit(failed=["g0.left_of.g1"])), CFG)
    assert d.rewrite == "prompt" and d.action.kind == "txt2img" and any("layout" in n for n in d.notes)
    d = decide(state(crit(failed=["g0.left_of.g1"])), PolicyConfig(rebuild_layout=True))
    assert d.action.kind == "img2img" and d.action.strength == CFG.rebuild_strength


def test_a_size_is_layout_too_but_a_missing_object_may_be_rebuilt():
    brief_state = state(crit(failed=["g0.object"], score=0.5))  # below near_miss, no region: a rebuild
    assert decide(brief_state, CFG).action.kind == "img2img"


def test_an_image_whose_edits_keep_failing_is_left_for_a_fresh_sample():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "x", "prompt": "p"}
    c = crit(failed=["g0.object"], defects=[defect])
    worn = {"failures": {"inpaint": 2, "variations": 1}}
    d = decide(state(c, node=worn), CFG)
    assert d.action.kind == "txt2img" and "3 edits of this image made no progress" in d.reason
    # Restarts that started from it are not its edits.
    d = decide(state(c, node={"failures": {"inpaint": 1, "txt2img": 3}}), CFG)
    assert d.action.kind == "inpaint"


def test_a_critic_that_can_be_wrong_has_a_pass_confirmed_before_it_is_accepted():
    d = decide(state(crit()), CFG, trust_critic=False)
    assert d.route == "generate" and d.action.kind == "variations" and d.action.n == 1
    assert d.action.check == "n1" and d.action.strength == CFG.witness_strength
    confirmed = {"witnesses": ["n2"], "votes": {i: 1 for i in IDS}}
    assert decide(state(crit(), node=confirmed), CFG, trust_critic=False).route == "accept"
    assert decide(state(crit()), CFG, trust_critic=True).route == "accept"  # ground truth needs no witness
    assert decide(state(crit()), PolicyConfig(confirm_accept=False), trust_critic=False).route == "accept"
    # With no image left for a witness, the pass is accepted as it is.
    assert decide(state(crit(), spend={"generations": 8}), CFG, trust_critic=False).route == "accept"


def test_a_tie_between_an_image_and_its_witness_is_broken_by_a_second_witness():
    tied = {"witnesses": ["n2"], "votes": {**{i: 1 for i in IDS}, "g0.object": -1}}
    d = decide(state(crit(), node=tied), CFG, trust_critic=False)
    assert d.action.check == "n1" and "g0.object" in d.reason
    # Without an image left for it, nothing is accepted on a coin toss: the run stops on its budget.
    assert decide(state(crit(), node=tied, spend={"generations": 8}), CFG, trust_critic=False).route == "stop"


def test_a_pass_two_witnesses_contradict_counts_as_a_failure():
    disputed = {"witnesses": ["n2", "n3"], "votes": {**{i: 2 for i in IDS}, "g0.object": -2}}
    d = decide(state(crit(), node=disputed), CFG, trust_critic=False)
    assert d.route == "generate" and d.action.check is None
    assert d.action.kind == "variations" and d.action.n == CFG.variations_n and "near miss (score 0.75)" in d.reason


def test_global_failure_rewrites_and_rebuilds_at_high_strength():
    d = decide(state(crit(failed=["background", "g0.left_of.g1"])), CFG)
    assert d.route == "generate" and d.rewrite == "prompt"
    assert d.action.kind == "img2img" and d.action.strength == CFG.rebuild_strength


def test_background_failure_is_global_even_with_regions():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "x"}
    d = decide(state(crit(failed=["background", "g0.object"], defects=[defect])), CFG)
    assert d.action.kind == "img2img"


def test_nothing_holding_restarts_with_a_new_prompt():
    d = decide(state(crit(failed=IDS)), CFG)
    assert d.rewrite == "prompt" and d.action.kind == "txt2img"
    assert "nothing holds" in d.reason


def test_tabu_action_is_skipped_for_the_next_alternative():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "x",
              "prompt": "p"}
    c = crit(failed=["g0.object"], defects=[defect])
    first = decide(state(c), CFG)
    assert first.action.kind == "inpaint"
    s = state(c, node={"tabu": [action_class(first.action)]})
    second = decide(s, CFG)
    assert second.action.kind == "variations"  # score 0.75 without a usable region: a near miss
    assert any("tabu" in n for n in second.notes)


def test_retries_are_counted_per_action_kind_and_shape():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "x", "prompt": "p"}
    c = crit(failed=["g0.object"], defects=[defect])
    key = action_class(decide(state(c), CFG).action)
    assert decide(state(c, node={"tries": {key: CFG.retries - 1}}), CFG).action.kind == "inpaint"
    assert decide(state(c, node={"tries": {key: CFG.retries}}), CFG).action.kind != "inpaint"


def test_adapted_strength_is_used_and_clamped():
    s = state(crit(failed=["g0.object"]), node={"strengths": {"variations": 0.5}})
    assert decide(s, CFG).action.strength == 0.5
    s = state(crit(failed=["g0.object"]), node={"strengths": {"variations": 5.0}})
    assert decide(s, CFG).action.strength == CFG.max_strength


def test_variations_shrink_to_the_remaining_budget():
    s = state(crit(failed=["g0.object"]), spend={"generations": 6})
    d = decide(s, CFG)
    assert d.action.kind == "variations" and d.action.n == 2
    s = state(crit(failed=["g0.object"]), spend={"generations": 7})
    assert decide(s, CFG).action.kind == "img2img"  # one image left: a single low-strength edit


@pytest.mark.parametrize("budget,spend,what", [
    ({"generations": 8}, {"generations": 8}, "generator calls"),
    ({"generations": 8, "usd": 0.05}, {"generations": 2, "usd": 0.051}, "dollars"),
    ({"generations": 8, "seconds": 10}, {"generations": 2, "seconds": 11}, "seconds"),
    ({"generations": None, "tokens": 100}, {"generations": 2, "tokens": 120}, "tokens"),
])
def test_each_kind_of_budget_stops_the_run(budget, spend, what):
    s = state(crit(failed=["g0.object"]), spend=spend)
    stop = before_action(s, CFG, Budget(**budget))
    assert stop.status == "budget" and what in stop.reason
    assert decide(s, CFG, Budget(**budget)).route == "stop"
    under = {k: v / 2 for k, v in spend.items()}
    assert before_action(state(crit(failed=["g0.object"]), spend=under), CFG, Budget(**budget)) is None


def test_plateau_stops_an_open_ended_run():
    s = state(crit(failed=["g0.object"]), since_best=CFG.plateau_k)
    assert decide_with_budget(s, CFG, Budget(generations=None, seconds=600)).status == "plateau"


def test_plateau_with_generations_left_starts_a_new_image():
    s = state(crit(failed=["g0.object"]), since_best=CFG.plateau_k)
    d = decide(s, CFG)
    assert d.rewrite == "prompt" and d.action.kind == "txt2img" and d.reason.startswith("plateau")
    assert decide(state(crit(failed=["g0.object"]), since_best=CFG.plateau_k - 1), CFG).action.kind != "txt2img"


def test_critic_recommendation_is_ignored_unless_configured():
    rec = {"kind": "img2img", "strength": 0.55, "prompt": "a red circle left of a blue square", "reason": "soft"}
    d = decide(state(crit(failed=["g0.object"], recommended=rec)), CFG)
    assert d.action.kind == "variations" and d.action.source == "rules"


def test_critic_recommendation_is_validated_and_may_be_overridden():
    CFG = PolicyConfig(follow_critic=True)
    rec = {"kind": "img2img", "strength": 0.55, "prompt": "a red circle left of a blue square", "reason": "soft"}
    d = decide(state(crit(failed=["g0.object"], recommended=rec)), CFG)
    assert d.action.kind == "img2img" and d.action.strength == 0.55 and d.action.source == "critic"
    huge = {"kind": "inpaint", "region": {"x0": 0, "y0": 0, "x1": 1, "y1": 0.9}, "reason": "redo all"}
    d = decide(state(crit(failed=["g0.object"], recommended=huge)), CFG)
    assert d.action.kind == "variations" and any("overridden" in n for n in d.notes)
    lazy = {"kind": "accept", "reason": "looks fine"}
    d = decide(state(crit(failed=["g0.object"], recommended=lazy)), CFG)
    assert d.route != "accept" and any("overridden" in n for n in d.notes)


def test_action_validation_rejects_bad_parameters():
    with pytest.raises(ValueError):
        Action(kind="img2img", strength=1.5)
    with pytest.raises(ValueError):
        Action(kind="inpaint")
    with pytest.raises(ValueError):
        Action(kind="variations", n=0, strength=0.3)
    with pytest.raises(ValueError):
        Action(kind="variations", n=3)  # a strength is always decided, never left to a default


def test_all_pass_but_marked_down_is_polished_not_rebuilt():
    d = decide(state(crit(score=0.6)), CFG)  # a model critic: every requirement holds, flaws remain
    assert d.route == "generate" and d.action.kind == "variations" and "polish" in d.reason
    assert d.action.prompt is None  # the node's own prompt, not the run's base prompt


def test_all_pass_under_a_vqascore_that_is_unsure_makes_a_fresh_sample_not_redraws():
    # The same image judged by VQAScore: 0.6 is the critic's certainty, which a light redraw keeps.
    unsure = {**crit(score=0.6), "prompt_version": "vqascore@1"}
    d = decide(state(unsure), CFG, trust_critic=False)
    assert d.route == "generate" and d.action.kind == "txt2img"
    assert "every requirement passes but the critic is unsure (VQAScore 0.60, below 0.8)" in d.reason
    # A judge's mark (another template, or none) is still polished; a sure VQAScore is confirmed.
    judged = decide(state({**crit(score=0.6), "prompt_version": "critique@2"}), CFG, trust_critic=False)
    assert judged.action.kind == "variations" and "polish" in judged.reason
    sure = decide(state({**crit(score=0.9), "prompt_version": "vqascore@1"}), CFG, trust_critic=False)
    assert sure.action.kind == "variations" and sure.action.check is not None  # a witness, then accept


def test_first_image_stops_cleanly_when_txt2img_is_banned():
    s = state(None)
    s["current"] = ROOT
    s["nodes"][ROOT].update(mark_tabu(TreeNode(id=ROOT), Action(kind="txt2img")))
    d = decide(s, CFG)
    assert d.route == "stop" and "cannot make a first image" in d.reason


def test_an_all_pass_image_is_accepted_even_when_it_spent_the_last_of_the_budget():
    d = decide(state(crit(), spend={"generations": 8}), CFG)
    assert d.route == "accept"


def test_adapted_strengths_do_not_make_a_failed_kind_new_again():
    # Two img2img failures at this node, at two strengths: a third strength is not a new action.
    node = TreeNode(id="n1")
    for strength in (0.8, 0.65):
        node = node.model_copy(update=mark_tabu(node, Action(kind="img2img", strength=strength)))
    s = state(crit(failed=["background", "g0.left_of.g1"]),
              node={"tabu": node.tabu, "failures": node.failures, "strengths": {"img2img": 0.5}})
    d = decide(s, CFG)
    assert d.action.kind == "txt2img" and any("img2img failed 2 times" in n for n in d.notes)


def test_a_lone_failure_of_a_fallible_critic_is_checked_before_it_is_repaired():
    defect = {"kind": "replace", "region": BOX, "requirement_ids": ["g0.object"], "description": "x", "prompt": "p"}
    c = crit(failed=["g0.object"], defects=[defect])
    assert decide(state(c), CFG, trust_critic=False).action.kind == "inpaint"  # off by default (measured)
    CHECK = PolicyConfig(confirm_failure=True)
    d = decide(state(c), CHECK, trust_critic=False)
    assert d.action.check == "n1" and "only g0.object fails" in d.reason
    # Confirmed by a witness (its vote against too): now it is repaired.
    confirmed = {"witnesses": ["n2"], "votes": {**{i: 1 for i in IDS}, "g0.object": -1}}
    assert decide(state(c, node=confirmed), CHECK, trust_critic=False).action.kind == "inpaint"
    # The exact critic, or two failures: repaired at once.
    assert decide(state(c), CHECK, trust_critic=True).action.kind == "inpaint"
    two = crit(failed=["g0.object", "g1.object"], defects=[defect])
    assert decide(state(two), CHECK, trust_critic=False).action.check is None


def test_the_tabu_check_sees_the_strength_that_would_run():
    # With 2 sampler steps a 0.35 variation makes no denoising step; it runs at 0.5. A 0.5 variation
    # that drifted here is tabu, so the 0.35 one (the same thing, run) must be too.
    c = crit(failed=["g0.object"])
    first = decide_with_budget(state(c), CFG, BUDGET, steps=2)
    assert first.action.kind == "variations" and first.action.strength == 0.5
    again = decide_with_budget(state(c, node={"tabu": [action_class(first.action)]}), CFG, BUDGET, steps=2)
    assert again.action.kind != "variations" and any("tabu" in n for n in again.notes)


def test_no_witness_once_the_time_or_money_budget_is_spent():
    timed = Budget(generations=8, seconds=60)
    d = decide(state(crit(), spend={"generations": 1, "seconds": 61}), CFG, budget=timed, trust_critic=False)
    assert d.route == "accept"  # a witness would overrun the time the person gave
    d = decide(state(crit(), spend={"generations": 1, "seconds": 10}), CFG, budget=timed, trust_critic=False)
    assert d.route == "generate" and d.action.check == "n1"
