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

A critic that can be wrong (any model critic) is not taken at its word where the pixels or a second
look say otherwise:
- **doubted losses**: a loss the pixels contradict is no drift — a repaint that changed a small part
  of the image cannot change its background or style, and a requirement the critic now fails at a
  place where no pixel changed was not lost by this edit (``doubt_drift``);
- **witnesses**: an image the critic passes is redrawn lightly and judged again before it is
  accepted (policy/witness.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from pydantic import BaseModel, Field

from agent.contracts import Action, Region
from agent.policy import belief, strength, tabu
from agent.policy.config import PolicyConfig
from agent.policy.next_action import GLOBAL_KINDS
from agent.tree import ROOT, Outcome, Tree, TreeNode, merge_nodes



class Judgement(BaseModel):
    """What a new image meant, and what changes because of it."""

    outcome: Outcome  # what happened; "stagnation" when the step ended a run of steps below the best
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


# -- what the pixels did -------------------------------------------------------------------------
CHANGED = 8  # of 255: a pixel moved by less than this (decoding noise) did not change


def measure_change(a: Image.Image, b: Image.Image) -> dict:
    """How much an edit moved the image, and where: the mean absolute change (0..1), the share of
    pixels that changed, and the box around them (None when none did)."""
    if a.size != b.size:
        return {"change": 1.0, "changed_share": 1.0, "changed_box": {"x0": 0, "y0": 0, "x1": 1, "y1": 1}}
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    moved = diff.max(axis=-1) > CHANGED
    out = {"change": round(float(diff.mean() / 255), 4), "changed_share": round(float(moved.mean()), 4),
           "changed_box": None}
    if moved.any():
        ys, xs = np.nonzero(moved)
        h, w = moved.shape
        out["changed_box"] = {"x0": xs.min() / w, "y0": ys.min() / h, "x1": (xs.max() + 1) / w,
                              "y1": (ys.max() + 1) / h}
    return out


# -- a tool that could not act --------------------------------------------------------------------
def tool_error_site(action: Action, origin: str) -> str:
    """Where a failed action is banned: where the next decision looks for it (txt2img at the root,
    an edit at the node it started from)."""
    return ROOT if action.fresh else origin


def after_tool_error(node: TreeNode, action: Action, error: str) -> dict[str, Any]:
    """The node update for an action the engine could not carry out there: tabu, and the error kept."""
    return {**tabu.mark_tabu(node, action), "tool_errors": node.tool_errors + [f"{action.kind}: {error}"[:300]]}


# -- did the edit keep what held --------------------------------------------------------------------
def losses(held: list[str], failing: list[str]) -> list[str]:
    """The requirements of ``held`` (they held where the action started) that now fail: what a drift
    check concludes from two critiques alone."""
    return [r for r in held if r in failing]


def needs_drift_check(origin: TreeNode, action: Action) -> bool:
    """An edit must keep what held in the image it edited. Restarts do not branch from the origin's
    image, so losing its requirements is not drift."""
    return origin.image is not None and origin.critique is not None and not action.fresh


# Requirements about one object as it stands: a critic's region for such a failure marks the object.
# For relations, positions and counts it marks where a fix would go, which says nothing about
# whether the edit moved what they are about.
LOCAL_EVIDENCE = {"object", "attribute", "size", "text", "other"}


def doubtful_losses(child: TreeNode, claimed: list[str], kinds: dict[str, str], cfg: PolicyConfig,
                    trust_critic: bool, origin: TreeNode | None = None,
                    about: dict[str, list[str]] | None = None) -> list[str]:
    """The claimed losses the pixels contradict (never for a critic that is ground truth). ``about``
    (requirement -> the groups it is about) and the ``origin``'s located objects give the second
    look: a requirement about objects no pixel of which changed was not lost by this edit."""
    if trust_critic or not cfg.doubt_drift or child.changed_share is None:
        return []
    out = []
    for rid in claimed:
        region = child.critique.regions.get(rid) if child.critique else None
        kind = kinds.get(rid, "other")
        if kind in GLOBAL_KINDS and child.changed_share < cfg.global_change_min:
            out.append(rid)  # a small repaint cannot change the whole image's background or style
        elif kind in LOCAL_EVIDENCE and region is not None and not _overlaps(region, child.changed_box):
            out.append(rid)  # the critic points at an object where not one pixel changed
        elif cfg.second_look and kind not in GLOBAL_KINDS and _untouched(origin, (about or {}).get(rid), child):
            out.append(rid)  # every object it is about stood, where the edit started, where nothing changed
    return out


def _untouched(origin: TreeNode | None, groups: list[str] | None, child: TreeNode) -> bool:
    if origin is None or origin.critique is None or not groups:
        return False
    boxes = {g: [o.region for o in origin.critique.objects if o.group == g] for g in groups}
    if not all(boxes.values()):
        return False  # an object the critic did not locate: no second look
    return not any(_overlaps(b, child.changed_box) for found in boxes.values() for b in found)


def _overlaps(region: Region, box: Region | None) -> bool:
    if box is None:
        return False
    return region.x0 < box.x1 and box.x0 < region.x1 and region.y0 < box.y1 and box.y0 < region.y1


def judge(tree: Tree, origin_id: str, child_id: str, action: Action, claimed_lost: list[str],
          state: dict[str, Any], cfg: PolicyConfig, trust_critic: bool = True) -> Judgement:
    """Judge ``child_id`` (made by ``action`` from ``origin_id``); ``claimed_lost`` is what the
    critic's drift check found; ``trust_critic`` is False for a critic that can be wrong."""
    kinds = {r["id"]: r.get("kind", "other") for r in state.get("checklist", [])}
    about = {r["id"]: [g for g in (r.get("group"), (r.get("spec") or {}).get("other_group")) if g]
             for r in state.get("checklist", [])}
    doubted = doubtful_losses(tree[child_id], claimed_lost, kinds, cfg, trust_critic, tree[origin_id], about)
    if doubted:  # they hold here as at the origin: the child is judged (and ranked) with them passing
        tree = Tree(merge_nodes(_raw(tree), {child_id: {"doubted": doubted}}))
    origin, child = tree[origin_id], tree[child_id]
    lost = [r for r in claimed_lost if r not in doubted]
    restart = action.fresh
    outside = (child.outside_change or 0.0) > cfg.outside_tolerance
    gained = belief.passed(child) - belief.passed(origin)
    previous_best = state.get("best")
    best = belief.best(tree) or child_id
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
            backtrack_to = best if set(lost) <= belief.passed(tree[best]) else origin_id
            current = backtrack_to
    elif belief.score(child) > belief.score(origin) or (gained and not restart):
        outcome, why, current = "progress", f"gained {', '.join(sorted(gained)) or 'score'}", child_id
    elif restart and belief.score(child) >= belief.score(origin):
        outcome, why, current = "fresh", "a new start scoring as well as the current node", child_id
    else:
        outcome, why, current = "no-progress", "nothing new holds", origin_id
        origin_update.update(tabu.count_try(origin, action))
        strengths, note = strength.after_small_change(origin, action, child.change, cfg)
        why += note
    if strengths != origin.strengths:
        origin_update["strengths"] = strengths
    updates: dict[str, dict[str, Any]] = {child_id: {"outcome": outcome, "lost": lost}}
    if doubted:
        updates[child_id]["doubted"] = doubted
        why += f"; not taken as lost (no pixel changed where they are): {', '.join(doubted)}"
    if origin_update:
        updates[origin_id] = origin_update

    # A fresh branch gets its own plateau window; a restart that lost to the current node does not.
    since_best = 0 if improved_best or (restart and current == child_id) else state.get("since_best", 0) + 1
    below = state.get("below_best", 0) + 1 if belief.score(tree[current]) < belief.score(tree[best]) else 0
    move: Outcome = outcome
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


def _raw(tree: Tree) -> dict[str, dict]:
    return {i: tree[i].to_state() for i in tree.ids()}
