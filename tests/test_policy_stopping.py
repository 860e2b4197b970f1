"""When to stop (agent/policy/stopping.py): critic failures, plateaus, nothing left."""
from __future__ import annotations

from agent.policy import Budget, PolicyConfig
from agent.policy import next_move as decide
from agent.policy.stopping import after_critic_error, before_action, critic_unreachable, remaining_images
from agent.status import Status
from tests.policy_states import crit, state

CFG = PolicyConfig()


def test_the_critic_may_fail_once_but_not_max_critic_failures_times_in_a_row():
    assert after_critic_error(CFG.max_critic_failures - 1, "bad json", CFG) is None
    stop = after_critic_error(CFG.max_critic_failures, "bad json", CFG)
    assert stop.status == Status.CRITIC_FAILED and "bad json" in stop.reason
    assert critic_unreachable("connection refused").status == Status.CRITIC_UNAVAILABLE


def test_a_plateau_stops_only_a_run_without_an_image_budget():
    s = state(crit(failed=["g0.object"]), since_best=CFG.plateau_k)
    assert before_action(s, CFG, Budget(generations=None)).status == Status.PLATEAU
    assert before_action(s, CFG, Budget(generations=8)) is None


def test_remaining_images_without_a_budget_is_unlimited():
    assert remaining_images({"generations": 3}, Budget(generations=8)) == 5
    assert remaining_images({"generations": 3}, Budget(generations=None)) == float("inf")


def test_nothing_left_to_try_is_its_own_status():
    # Every alternative banned at the node, and txt2img at the root.
    from agent.contracts import Action
    from agent.policy.tabu import mark_tabu
    from agent.tree import ROOT, TreeNode

    s = state(crit(failed=["g0.object"]))
    root = TreeNode(id=ROOT)
    s["nodes"][ROOT].update(mark_tabu(root, Action(kind="txt2img")))
    node = TreeNode(id="n1")
    for a in (Action(kind="variations", n=3, strength=0.35), Action(kind="img2img", strength=0.8),
              Action(kind="variations", n=3, strength=0.2)):
        node = node.model_copy(update=mark_tabu(node, a))
    s["nodes"]["n1"].update({"tabu": node.tabu, "failures": node.failures})
    d = decide(s, CFG, Budget())
    assert d.route == "stop" and d.status == Status.EXHAUSTED


def test_a_reentered_run_owes_its_critiques_first_when_the_critic_was_the_trouble():
    from agent.policy.stopping import reentry

    s = state(crit([]), status="critic_unavailable", new_nodes=["n1"], since_best=4)
    assert reentry(s, None) == ("critique", {"critic_failures": 0})  # the plateau window is not reset
    assert reentry({**s, "status": "budget"}, None) == ("next", {"since_best": 0})
    to, update = reentry(s, "n1")  # a person continuing from a node: the next move from there
    assert to == "next" and update == {"current": "n1", "below_best": 0, "new_nodes": [], "since_best": 0}


def test_reentry_refuses_a_node_that_is_not_a_critiqued_image_of_the_run():
    import pytest

    from agent.policy.stopping import reentry
    from tools.errors import InputError

    with pytest.raises(InputError, match="no such node"):
        reentry(state(crit([])), "n9")
    with pytest.raises(InputError, match="no critique yet"):
        reentry(state(crit([])), "root")


def test_an_action_is_shrunk_to_the_images_left():
    from agent.contracts import Action
    from agent.policy.stopping import fit_budget

    v = Action(kind="variations", n=3, strength=0.4, source="critic", reason="r")
    assert fit_budget(v, 3) is v and fit_budget(v, float("inf")) is v
    assert fit_budget(v, 2).n == 2
    one = fit_budget(v, 1)
    assert (one.kind, one.strength, one.source, one.reason) == ("img2img", 0.4, "critic", "r")
    assert fit_budget(v, 0) is None and fit_budget(Action(kind="txt2img"), 0) is None
