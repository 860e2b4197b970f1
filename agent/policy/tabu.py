"""Which actions the agent may no longer take at a node: tabu after drift, or tried too often.

An action's *class* is its kind and shape (strength, n, regions) without prompt or seed, so
rewording a prompt or drawing a new seed does not make a failed move look new. Exact repeats need
no check: every action draws fresh seeds from a counter that only grows.
"""
from __future__ import annotations

from agent.contracts import Action
from agent.policy.config import PolicyConfig
from agent.policy.person import fresh_banned
from agent.tree import TreeNode


def action_class(action: Action) -> str:
    """An opaque key for the action's class. An inpaint's strength is left out: it follows from the
    region's prompt (policy/strength.py), not from a choice that could be tried differently."""
    parts = [action.kind]
    if action.strength is not None and action.kind != "inpaint":
        parts.append(f"s={action.strength:.2f}")
    if action.n is not None:
        parts.append(f"n={action.n}")
    if action.regions:
        parts.append("r=" + ";".join(",".join(f"{v:.2f}" for v in r.as_tuple()) for r in action.regions))
    if action.layout is not None:
        parts.append("layout=" + ";".join(",".join(f"{v:.2f}" for v in b["box"]) for b in action.layout["blobs"]))
    if action.then is not None:
        parts.append("then(" + action_class(action.then) + ")")
    return "|".join(parts)


def kind_of(action: Action) -> str:
    """The kind an action's failures count under: every fresh sample as a txt2img (a sketch's img2img
    included), so that it is never counted as an edit of the image the agent stood on."""
    return "txt2img" if action.fresh else action.kind


def why_banned(node: TreeNode, action: Action, cfg: PolicyConfig) -> str | None:
    """Why ``action`` may not be taken at ``node``, or None when it may."""
    own = fresh_banned(node, action, cfg)
    if own:
        return own
    key = action_class(action)
    if key in node.tabu:
        return "tabu here"
    if not action.fresh and node.tries.get(key, 0) >= cfg.retries:
        return f"tried {cfg.retries} time(s) here without progress"
    if kind_of(action) in ("img2img", "variations"):
        # Strength adapts after each failure, which makes a new class; the kind still gets only so
        # many failures at one node.
        failures = node.failures.get(action.kind, 0)
        if failures >= cfg.kind_retries:
            return f"{action.kind} failed {failures} times here"
    return None


def mark_tabu(node: TreeNode, action: Action) -> dict:
    """The node update that bans ``action``'s class at ``node`` (after drift, or a tool that
    cannot do it)."""
    return {"tabu": node.tabu + [action_class(action)],
            "failures": {**node.failures, kind_of(action): node.failures.get(kind_of(action), 0) + 1}}


def count_try(node: TreeNode, action: Action) -> dict:
    """The node update that counts one try of ``action`` at ``node`` that brought no progress."""
    key = action_class(action)
    return {"tries": {**node.tries, key: node.tries.get(key, 0) + 1},
            "failures": {**node.failures, kind_of(action): node.failures.get(kind_of(action), 0) + 1}}
