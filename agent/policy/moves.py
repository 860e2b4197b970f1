"""Moving things: when what fails is where things are, the agent plans the whole scene's layout
(policy/layout.py) and carries out its first move as one decision: the object painted at its new
place and its old copy removed — in one repaint of both regions (``move_steps`` 1), or in two steps,
the new place first (``move_steps`` 2) — judged as one outcome, with one tabu entry.

Every repaint spares its neighbours (``spare_neighbours``): the boxes of the objects the critic
found that are not being moved are kept out of the mask, so a repaint in a crowded scene cannot
paint over them. Each layout the planner offers is a different move (another object, another
place); a move that made no progress is not repeated, and the next layout is tried. When no layout
satisfies the brief's positions and relations, the run is told so (:func:`impossible`).
"""
from __future__ import annotations

from typing import Any

from agent.contracts import Action, Region
from agent.policy import layout, strength
from agent.policy.config import PolicyConfig
from agent.tree import CritiqueSummary

LAYOUT_KINDS = {"position", "relation"}
PAD = 0.05  # around a target box: the repaint covers the object's blurred edge


def _region(box: layout.Box, pad: float = PAD) -> Region:
    x0, y0, x1, y1 = box
    return Region(x0=max(0.0, x0 - pad), y0=max(0.0, y0 - pad), x1=min(1.0, x1 + pad), y1=min(1.0, y1 + pad))


def _background(checklist: list[dict[str, Any]]) -> str | None:
    return next(((r.get("spec") or {}).get("colour") for r in checklist
                 if (r.get("spec") or {}).get("check") == "background"), None)


def _boxes(crit: CritiqueSummary, except_group: str | None) -> list[Region]:
    return [o.region for o in crit.objects if o.group is not None and o.group != except_group]


def neighbours(crit: CritiqueSummary | None, group: str | None, regions: list[Region],
               cfg: PolicyConfig) -> list[Region]:
    """The boxes a repaint of ``group`` at ``regions`` must spare: the other objects the critic found
    there (none when the rule is off, or the critic gives no boxes)."""
    if not cfg.spare_neighbours or crit is None:
        return []
    return [b for b in _boxes(crit, group) if any(b.iou(r) > 0 or _touch(b, r) for r in regions)]


def _touch(a: Region, b: Region) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def layout_failures(failed: list[str], checklist: list[dict[str, Any]]) -> list[str]:
    kinds = {r["id"]: r.get("kind") for r in checklist}
    return [f for f in failed if kinds.get(f) in LAYOUT_KINDS]


def impossible(checklist: list[dict[str, Any]]) -> str | None:
    """Why no picture can satisfy the brief's positions and relations together, or None."""
    scene = layout.scene_of(checklist, None)
    if scene is None or not scene[1] and not any(t.region for t in scene[0]):
        return None
    # The margins alone, then wider and finer searches: only a true contradiction may stop a run.
    for breadth, step in ((16, layout.STEP), (48, layout.STEP), (48, layout.STEP / 2)):
        if layout.plan_layouts(*scene, limit=1, safety=0.0, breadth=breadth, step=step):
            return None
    texts = [r["text"] for r in checklist if r.get("kind") in LAYOUT_KINDS]
    return "no layout of these objects satisfies all of: " + "; ".join(texts)


def moves(checklist: list[dict[str, Any]], crit: CritiqueSummary, failed: list[str], cfg: PolicyConfig,
          limit: int = 6) -> list[tuple[Action, str]]:
    """For each layout that satisfies the whole checklist (fewest moves first, the most robust first),
    the action that reaches it, as (action, reason); [] when the critic located nothing, or an object
    is still missing (it is drawn first, by the critic's own fixes)."""
    if not cfg.plan_layout or not layout_failures(failed, checklist) or not crit.objects:
        return []
    scene = layout.scene_of(checklist, [o.model_dump(mode="json") for o in crit.objects])
    if scene is None or any(t.box is None for t in scene[0]):
        return []
    things, relations = scene
    texts = {r["id"]: r["text"] for r in checklist}
    why = ", ".join(texts.get(f, f) for f in layout_failures(failed, checklist))
    bg = _background(checklist)
    out = []
    for plan in layout.plan_layouts(things, relations, limit=limit):
        if not plan.moves:
            continue
        ordered = _order(plan.moves)
        where = "; then ".join(f"the {m.thing.label} to ({m.center[0]:.2f}, {m.center[1]:.2f})" for m in ordered)
        out.append((_chain(ordered, things, bg, cfg), f"{why}: a layout where everything holds is "
                                                       f"{len(ordered)} move(s) away: {where}"))
    return out


def fresh_layout(checklist: list[dict[str, Any]], index: int, limit: int = 4) -> dict[str, Any] | None:
    """A layout of the whole scene for a fresh sample to start from (the ``index``-th fresh sample gets
    the planner's ``index``-th layout, round the ones it offers), or None when the checklist states
    no geometry, or nothing about where things are."""
    scene = layout.scene_of(checklist, None)
    if scene is None or not scene[1] and not any(t.region for t in scene[0]):
        return None
    plans = layout.plan_layouts(*scene, limit=limit)
    if not plans:
        return None
    plan = plans[index % len(plans)]
    colours = {r.get("group"): (r.get("spec") or {}).get("colour") for r in checklist
               if (r.get("spec") or {}).get("check") in ("object", "count")}
    return {"background": _background(checklist),
            "blobs": [{"group": m.thing.group, "label": m.thing.label, "colour": colours.get(m.thing.group),
                       "box": [round(v, 4) for v in m.to], "size": 0.8} for m in plan.moves]}


def _order(planned: list[layout.Move]) -> list[layout.Move]:
    """Moves in an order where none paints onto an object that has not moved away yet (where one can)."""
    left, done = list(planned), []
    while left:
        free = [m for m in left if not any(o is not m and o.thing.box is not None and _overlap(m.to, o.thing.box)
                                           for o in left)]
        m = (free or left)[0]
        done.append(m)
        left.remove(m)
    return done


def _overlap(a: layout.Box, b: layout.Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clip(box: layout.Box, away: layout.Box) -> layout.Box | None:
    """The largest part of ``box`` that does not overlap ``away`` (None when nothing is left)."""
    if not _overlap(box, away):
        return box
    x0, y0, x1, y1 = box
    parts = [(x0, y0, min(x1, away[0]), y1), (max(x0, away[2]), y0, x1, y1),
             (x0, y0, x1, min(y1, away[1])), (x0, max(y0, away[3]), x1, y1)]
    parts = [p for p in parts if p[2] - p[0] > 0.01 and p[3] - p[1] > 0.01]
    return max(parts, key=lambda p: (p[2] - p[0]) * (p[3] - p[1])) if parts else None


def _spared(boxes: list[layout.Box], repainted: list[layout.Box], cfg: PolicyConfig) -> list[Region]:
    """Neighbours' boxes to keep out of a repaint, less what overlaps the object being repainted (its
    own pixels must go, even where a neighbour touches it)."""
    if not cfg.spare_neighbours:
        return []
    out = []
    for b in boxes:
        for r in repainted:
            b = _clip(b, r) if b is not None else None
        if b is not None:
            out.append(_region(b, 0.0))
    return out


def _chain(ordered: list[layout.Move], things: list[layout.Thing], bg: str | None, cfg: PolicyConfig) -> Action:
    """One action for the whole way to the layout: each move a repaint of its new place and its old one
    (``move_steps`` 1) or two (2), chained with ``then``, judged together at the end."""
    where = {t.key: t.box for t in things}
    steps: list[Action] = []
    for m in ordered:
        others = [b for k, b in where.items() if k != m.thing.key and b is not None]
        target, old = m.to, m.thing.box
        prompt = f"{m.thing.label}, {bg} background" if bg else m.thing.label
        if cfg.move_steps == 1:
            steps.append(_inpaint(prompt, [_region(target), _region(old, 0.02)], _spared(others, [target, old], cfg),
                                  cfg))
        else:
            steps.append(_inpaint(prompt, [_region(target)], _spared(others + [old], [target], cfg), cfg))
            steps.append(_inpaint(f"{bg} background" if bg else "background", [_region(old, 0.02)],
                                  _spared(others + [target], [old], cfg), cfg))
        where[m.thing.key] = target
    action = steps[-1]
    for step in reversed(steps[:-1]):
        action = step.model_copy(update={"then": action})
    return action


def _inpaint(prompt: str, regions: list[Region], keep: list[Region], cfg: PolicyConfig) -> Action:
    a = Action(kind="inpaint", prompt=prompt, regions=regions, keep=keep, strength=strength.provisional_inpaint(cfg))
    return strength.complete_inpaint(a, cfg)
