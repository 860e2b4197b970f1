"""When a run stops: every stop the agent makes is decided here.

- before another action: the budget is spent (images, seconds, dollars, tokens), or a plateau (no
  better image for ``plateau_k`` steps) when no image budget asks for more;
- after the critic fails: unreachable (stop at once, resumable), or unusable ``max_critic_failures``
  times in a row;
- when no untried action is left at the node the agent stands on.
Acceptance is not a stop but an answer (policy/next_action.py); a person may also stop a chat run.
And the other way: where a stopped run picks up when it is opened again (:func:`reentry`).
"""
from __future__ import annotations

from typing import Any, Literal, NamedTuple

from agent.contracts import Action
from agent.policy.config import Budget, PolicyConfig
from agent.status import CRITIC_TROUBLE, Status, status_of
from agent.tree import Tree
from tools.errors import InputError

_LIMITS = (("generations", "generator calls"), ("seconds", "seconds of wall time"),
           ("usd", "dollars of critic cost"), ("tokens", "critic tokens"))


class Stop(NamedTuple):
    status: Status
    reason: str


def budget_spent(spend: dict[str, float], budget: Budget) -> Stop | None:
    for key, what in _LIMITS:
        cap = getattr(budget, key)
        if cap is not None and spend.get(key, 0) >= cap:
            return Stop(Status.BUDGET, f"budget spent: {spend.get(key, 0):g} of {cap:g} {what}")
    return None


def plateaued(state: dict[str, Any], cfg: PolicyConfig) -> bool:
    return bool(state.get("best")) and state.get("since_best", 0) >= cfg.plateau_k


def before_action(state: dict[str, Any], cfg: PolicyConfig, budget: Budget) -> Stop | None:
    """Why the run must stop before another action, or None."""
    spent = budget_spent(state.get("spend", {}), budget)
    if spent:
        return spent
    if plateaued(state, cfg) and budget.generations is None:
        # With an image budget the agent restarts instead (next_action.py): the budget is what the
        # person chose to spend, and a fresh image is the best use of what remains.
        return Stop(Status.PLATEAU, f"plateau: no better image in {state['since_best']} steps")
    return None


def remaining_images(spend: dict[str, float], budget: Budget) -> float:
    """Images the budget still allows (inf without an image budget)."""
    cap = budget.generations
    return float("inf") if cap is None else cap - spend.get("generations", 0)


def fit_budget(action: Action, remaining: float) -> Action | None:
    """The action, shrunk to the images the budget still allows, or None when nothing fits: fewer
    variations, and a single one made as an img2img at the same strength (one image has no sibling
    to be ranked against)."""
    if action.generations <= remaining:
        return action
    if action.kind == "variations" and remaining >= 2:
        return action.model_copy(update={"n": int(remaining)})
    if action.kind == "variations" and remaining >= 1:
        return Action(kind="img2img", strength=action.strength, prompt=action.prompt,
                      negative_prompt=action.negative_prompt, source=action.source, reason=action.reason)
    return None


def critic_unreachable(error: str) -> Stop:
    """The critic cannot be reached: stop now; the run resumes once it is back."""
    return Stop(Status.CRITIC_UNAVAILABLE, f"critic unreachable: {error}")


def after_critic_error(failures_in_a_row: int, error: str, cfg: PolicyConfig) -> Stop | None:
    """One unusable reply marks the image and the run goes on; too many in a row stop it."""
    if failures_in_a_row >= cfg.max_critic_failures:
        return Stop(Status.CRITIC_FAILED,
                    f"the critic gave no usable answer {failures_in_a_row} times in a row: {error}")
    return None


def nothing_left() -> Stop:
    return Stop(Status.EXHAUSTED, "no untried action left at the current node")


class Reentry(NamedTuple):
    """Where a re-entered run goes: ``"critique"`` (the critiques it still owes) or ``"next"`` (the
    next decision, or in chat the next question), and what changes in its state."""

    to: Literal["critique", "next"]
    update: dict[str, Any]


def reentry(state: dict[str, Any], node: str | None) -> Reentry:
    """A finished run opened again (a raised budget, the critic back, a person continuing from
    ``node``): when the critic was the trouble, the critiques it still owes come first; otherwise
    the next move, with a fresh plateau window, since what is left of the budget is for finding a
    better image. A node to continue from must be a critiqued image of the run."""
    update: dict[str, Any] = {}
    if node:
        tree = Tree(state["nodes"])
        if node not in tree:
            raise InputError(f"cannot continue from {node!r}: this run has no such node")
        if not tree[node].critique:
            raise InputError(f"cannot continue from {node!r}: it has no critique yet; pick an image the critic "
                             "has judged")
        update.update({"current": node, "below_best": 0, "new_nodes": []})
    if status_of(state.get("status")) in CRITIC_TROUBLE and state.get("new_nodes") and not node:
        return Reentry("critique", {**update, "critic_failures": 0})
    return Reentry("next", {**update, "since_best": 0})
