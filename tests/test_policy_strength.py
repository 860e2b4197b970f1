"""How strong (agent/policy/strength.py): defaults, adaptation, clamping, and an inpaint's
strength following from its prompt."""
from __future__ import annotations

from agent.contracts import Action, Region
from agent.policy import PolicyConfig
from agent.policy import strength
from agent.tree import TreeNode

CFG = PolicyConfig()
REGION = Region(x0=0.1, y0=0.1, x1=0.4, y1=0.4)


def test_defaults_and_adapted_values_are_clamped():
    node = TreeNode(id="n1")
    assert strength.for_edit(node, "variations", CFG) == CFG.variation_strength
    assert strength.for_edit(node, "img2img", CFG) == CFG.rebuild_strength
    assert strength.for_edit(TreeNode(id="n1", strengths={"img2img": 0.05}), "img2img", CFG) == CFG.min_strength
    assert strength.for_edit(TreeNode(id="n1", strengths={"img2img": 2.0}), "img2img", CFG) == CFG.max_strength


def test_a_region_prompt_naming_a_colour_is_guided_at_the_guided_strength():
    a = strength.complete_inpaint(Action(kind="inpaint", regions=[REGION], strength=1.0,
                                         prompt="a small red circle at top left, yellow background"), CFG)
    assert a.strength == CFG.guided_inpaint_strength and a.guide["colour"] == "red" and a.guide["size"] < 0.7


def test_a_region_prompt_naming_no_colour_is_repainted_from_noise_at_full_strength():
    # The recorded strength is the one the engine uses: a primed strength would leave the region as it was.
    a = strength.complete_inpaint(Action(kind="inpaint", regions=[REGION], strength=0.5, prompt="a cat"), CFG)
    assert a.strength == CFG.inpaint_strength and a.guide is None


def test_guides_can_be_turned_off():
    cfg = PolicyConfig(inpaint_guide=False)
    a = strength.complete_inpaint(Action(kind="inpaint", regions=[REGION], strength=0.5, prompt="a red circle"), cfg)
    assert a.strength == cfg.inpaint_strength and a.guide is None
    assert strength.provisional_inpaint(cfg) == cfg.inpaint_strength


def test_drift_lowers_and_a_small_change_raises_only_edit_strengths():
    node = TreeNode(id="n1", strengths={"img2img": 0.8})
    assert strength.after_drift(node, Action(kind="img2img", strength=0.8), CFG)["img2img"] == 0.65
    inpaint = Action(kind="inpaint", strength=0.5, regions=[REGION])
    assert strength.after_drift(node, inpaint, CFG) == {"img2img": 0.8}
    raised, why = strength.after_small_change(node, Action(kind="variations", n=3, strength=0.35), 0.001, CFG)
    assert raised["variations"] == 0.5 and "0.1%" in why
    same, why = strength.after_small_change(node, Action(kind="variations", n=3, strength=0.35), 0.3, CFG)
    assert same == {"img2img": 0.8} and why == ""


def test_a_person_chooses_their_own_strength():
    assert strength.for_person_vary(0.6, CFG) == 0.6
    assert strength.for_person_vary(None, CFG) == CFG.variation_strength


def test_no_strength_is_so_low_that_the_sampler_runs_no_step():
    # diffusers runs int(steps x strength) denoising steps: 2 steps at 0.35 would run none.
    assert strength.runnable(0.35, 2) == 0.5 and strength.runnable(0.35, 20) == 0.35
    assert strength.runnable(0.25, 4) == 0.25 and strength.runnable(0.2, 3) == 0.34
    assert strength.runnable(0.3, None) == 0.3
    from agent.policy import next_move as decide
    from tests.policy_states import BUDGET, crit, state

    d = decide(state(crit(failed=["g0.object"])), CFG, BUDGET, steps=2)
    assert d.action.kind == "variations" and d.action.strength == 0.5


def test_the_policy_imports_without_torch():
    """Every decision is a pure function of state and critique: no model library is needed to read it."""
    import subprocess
    import sys

    code = ("import sys, agent.policy, agent.policy.answers, agent.policy.belief, agent.policy.strength; "
            "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_whether_an_inpaint_is_guided_is_read_from_its_prompt_here_not_in_the_engine():
    from agent.contracts import Action
    from agent.policy.strength import complete_inpaint

    box = Region(x0=0.1, y0=0.1, x1=0.4, y1=0.4)
    guided = complete_inpaint(Action(kind="inpaint", prompt="a small red circle", regions=[box], strength=1.0), CFG)
    assert guided.guide == {"size": 0.55, "colour": "red", "background": "surroundings"}
    assert guided.strength == CFG.guided_inpaint_strength
    plain = complete_inpaint(Action(kind="inpaint", prompt="a dog", regions=[box], strength=0.5), CFG)
    assert plain.guide is None and plain.strength == CFG.inpaint_strength
    off = complete_inpaint(guided, CFG.model_copy(update={"inpaint_guide": False}))
    assert off.guide is None and off.strength == CFG.inpaint_strength
