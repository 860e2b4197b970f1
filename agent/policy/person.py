"""The person is in charge: where a person's word outranks what the agent believes.

- **their picture**: a run from the person's own image never ends on an image that does not descend
  from it — no fresh image (a txt2img, or an img2img from a sketch of a layout) at the root — unless they allow fresh images
  (``PolicyConfig.allow_fresh``: ``--allow-fresh``, the studio's checkbox). In every surface,
  autonomous runs included: the ban is where every ban is looked up (policy/tabu.py), and where the
  agent would have started afresh it rebuilds the current image as strongly as an edit goes instead;
- **their pick**: a picked image is the run's answer, unless they accept another; so where the agent
  would accept a different image in a chat, it offers it instead of ending the run;
- **their changes to the brief**: policy/amend.py.
"""
from __future__ import annotations

from agent.contracts import Action
from agent.policy import belief, strength
from agent.policy.config import Budget, PolicyConfig
from agent.policy.stopping import fit_budget, remaining_images
from agent.status import Status
from agent.tree import ROOT, Tree, TreeNode

OWN_PICTURE = ("a new image is not allowed here because the run refines your own picture (allow fresh images to "
               "let the agent start over)")


def fresh_banned(node: TreeNode, action: Action, cfg: PolicyConfig) -> str | None:
    """Why a fresh image may not be made, or None. ``node`` is where a txt2img starts: the root,
    which holds an image only when the person brought one."""
    if action.fresh and node.id == ROOT and node.image and not cfg.allow_fresh:
        return OWN_PICTURE
    return None


def instead_of_fresh(d, state: dict, cfg: PolicyConfig, budget: Budget, steps: int | None):
    """The decision ``d`` (policy/next_action.Decision), or — where it stops only because a fresh
    image would leave the person's picture behind — a rebuild of the current image at
    ``max_strength``: the nearest an edit comes to a fresh sample, and still a descendant of theirs."""
    said = " ".join([d.reason, *d.notes])
    if d.route != "stop" or d.status != Status.EXHAUSTED or OWN_PICTURE not in said:
        return d
    from agent.policy.tabu import why_banned  # tabu asks this module about fresh images

    node = Tree(state["nodes"])[state.get("current") or ROOT]
    if node.critique is None:
        return d
    action = Action(kind="img2img", strength=strength.runnable(cfg.max_strength, steps),
                    negative_prompt=state.get("negative_prompt"))
    action = None if why_banned(node, action, cfg) else fit_budget(action, remaining_images(state.get("spend", {}),
                                                                                            budget))
    if action is None:
        return d
    why = (f"a new image would leave your picture behind: rewrite the prompt and rebuild this image at strength "
           f"{action.strength:g} instead")
    return d.model_copy(update={"route": "generate", "status": None, "rewrite": "prompt", "reason": why,
                                "action": action.model_copy(update={"reason": why})})


def answer(state: dict) -> str | None:
    """The run's answer: the image accepted (by the person, or by the agent where nobody picked);
    else the person's pick; else the best image as the agent believes it."""
    picked = state.get("picked")
    if state.get("status") == "accepted" or not picked or picked not in state.get("nodes", {}):
        return state.get("best")
    return picked


def offer(state: dict) -> str | None:
    """Where the agent would accept the current image although the person picked another: the words
    that offer it to them (the pick stays the answer until they accept), or None to accept."""
    picked, current = state.get("picked"), state.get("current")
    if state.get("mode") != "chat" or not picked or picked == current or picked not in state.get("nodes", {}):
        return None
    tree = Tree(state["nodes"])
    now, then = len(belief.passed(tree[current])), len(belief.passed(tree[picked]))
    total = len(state.get("checklist", []))
    return (f"{current} passes {now} of {total} requirements (your pick {picked}: {then}); your pick stays the "
            f"answer unless you accept {current}")
