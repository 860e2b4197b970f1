"""Did it help or drift: the judgement of a new image against where its action started (the *origin*).

- **drift**: a requirement that held at the origin now fails, or an inpaint changed pixels outside
  its mask (measured, not promised). The action's class becomes tabu at the origin, its strength
  goes down there, and the agent goes back to the best node if the lost requirements hold there,
  else to the origin — unless the new image is itself the best in the tree.
- **progress**: something new holds and nothing was lost (or the score rose): move to it.
- **fresh**: a restart (txt2img) scoring as well as the origin: explore the new branch. A restart
  does not build on the origin, so it is never drift and must beat or match it outright.
- **no-progress**: neither: stay, count the try, and raise the strength if the image barely changed.
- **stagnation**: ``stagnation_k`` steps in a row below the best node: back to the best node.
The best node is the highest score anywhere in the tree (a later node must score strictly higher).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.contracts import Action
from agent.policy import strength, tabu
from agent.policy.config import PolicyConfig
from agent.tree import Outcome, Tree, TreeNode

Move = Literal["progress", "fresh", "no-progress", "drift", "stagnation", "failed"]


class Judgement(BaseModel):
    """What a new image meant, and what changes because of it."""

    outcome: Move  # what happened; "stagnation" when the step ended a run of steps below the best
    reason: str
    origin: str
    child: str | None = None  # the new image judged (the best-ranked, for variations)
    current: str  # where the agent stands next
    backtrack_to: str | None = None  # set when that is a return to an earlier node
    best: str | None = None
    since_best: int = 0
    below_best: int = 0
    node_updates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    counters: dict[str, float] = Field(default_factory=dict)


def needs_drift_check(origin: TreeNode, action: Action) -> bool:
    """An edit must keep what held in the image it edited. Restarts do not branch from the origin's
    image, so losing its requirements is not drift."""
    return origin.image is not None and origin.critique is not None and action.kind != "txt2img"


def judge(tree: Tree, origin_id: str, child_id: str, action: Action, lost: list[str], state: dict[str, Any],
          cfg: PolicyConfig) -> Judgement:
    """Judge ``child_id`` (made by ``action`` from ``origin_id``); ``lost`` is what the drift check found."""
    origin, child = tree[origin_id], tree[child_id]
    restart = action.kind == "txt2img"
    outside = (child.outside_change or 0.0) > cfg.outside_tolerance
    gained = child.passed - origin.passed
    previous_best = state.get("best")
    best = child_id if previous_best is None or child.score > tree[previous_best].score else previous_best
    improved_best = best != previous_best
    origin_update: dict[str, Any] = {}
    strengths = dict(origin.strengths)
    counters: dict[str, float] = {}
    backtrack_to = None
    if lost or outside:
        outcome: Outcome = "drift"
        why = (f"lost {', '.join(lost)} that held at {origin_id}" if lost else "") + \
              (f"{'; ' if lost else ''}changed {child.outside_change:.1%} of pixels outside the mask"
               if outside else "")
        origin_update.update(tabu.mark_tabu(origin, action))
        strengths = strength.after_drift(origin, action, cfg)
        counters = {"drifts": 1}
        if best == child_id:
            current = child_id  # it lost something but is still the best node in the tree: stay there
        else:
            backtrack_to = best if set(lost) <= tree[best].passed else origin_id
            current = backtrack_to
    elif child.score > origin.score or (gained and not restart):
        outcome, why, current = "progress", f"gained {', '.join(sorted(gained)) or 'score'}", child_id
    elif restart and child.score >= origin.score:
        outcome, why, current = "fresh", "a new start scoring as well as the current node", child_id
    else:
        outcome, why, current = "no-progress", "nothing new holds", origin_id
        origin_update.update(tabu.count_try(origin, action))
        strengths, note = strength.after_small_change(origin, action, child.change, cfg)
        why += note
    if strengths != origin.strengths:
        origin_update["strengths"] = strengths
    updates: dict[str, dict[str, Any]] = {child_id: {"outcome": outcome, "lost": lost}}
    if origin_update:
        updates[origin_id] = origin_update

    # A fresh branch gets its own plateau window; a restart that lost to the current node does not.
    since_best = 0 if improved_best or (restart and current == child_id) else state.get("since_best", 0) + 1
    below = state.get("below_best", 0) + 1 if tree[current].score < tree[best].score else 0
    move: Move = outcome
    if backtrack_to is None and below >= cfg.stagnation_k:
        backtrack_to, why, move = best, f"{why}; {below} steps below the best node {best}", "stagnation"
    return Judgement(outcome=move, reason=why, origin=origin_id, child=child_id, current=current,
                     backtrack_to=backtrack_to, best=best, since_best=since_best, below_best=below,
                     node_updates=updates, counters=counters)


def judge_unjudged(tree: Tree, origin_id: str, action: Action, state: dict[str, Any]) -> Judgement:
    """Every critique of the new images failed: the try counts, nothing moves."""
    return Judgement(outcome="failed", reason="the critic could not judge the new image(s)", origin=origin_id,
                     current=state.get("current") or origin_id, best=state.get("best"),
                     since_best=state.get("since_best", 0) + 1, below_best=state.get("below_best", 0),
                     node_updates={origin_id: tabu.count_try(tree[origin_id], action)})
