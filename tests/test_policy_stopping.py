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
