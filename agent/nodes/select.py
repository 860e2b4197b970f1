"""select: keep the best new image, judge it against where it came from, and move (or not).

Outcomes, judged against the node the action started from (the *origin*):
  drift        a requirement that held at the origin now fails, or an inpaint changed pixels outside
               its mask: the action becomes tabu at the origin and the agent backtracks;
  progress     something new holds and nothing was lost: the new node becomes current;
  fresh        a restart (txt2img) scoring as well as the origin: explore the new branch;
  no-progress  neither: stay, count the try, raise the strength if the image barely changed.
The best node is tracked across the whole tree; plateau and stagnation counters feed the stop
and backtrack rules.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.contracts import Action, Requirement
from agent.context import RunContext
from agent.critics.base import CriticError
from agent.nodes.common import emit, load_critique
from agent.policy import ROOT, class_key
from agent.state import RunState, add_numbers, node_score, passed_ids

OUTSIDE_TOLERANCE = 0.001  # share of outside-mask pixels an inpaint may change before it counts as drift
SMALL_CHANGE = 0.02  # mean pixel change below which an edit "changed too little"


def _rank_new(state: RunState, runtime: Runtime[RunContext], ids: list[str]) -> tuple[list[str], dict, str | None]:
    """New nodes best first (variations are ranked by the critic), what the ranking cost, and the
    critic's error if it could not rank (then the critique scores decide)."""
    if len(ids) == 1:
        return ids, {}, None
    ctx = runtime.context
    nodes = state["nodes"]
    checklist = [Requirement.model_validate(r) for r in state["checklist"]]
    images = [ctx.store.load_image(nodes[i]["image"]) for i in ids]
    critiques = [load_critique(runtime, nodes[i]) for i in ids]
    try:
        ranking = ctx.critic.rank(images, state["brief"], checklist, critiques=critiques)
    except CriticError as exc:
        by_score = sorted(ids, key=lambda i: (-node_score(nodes[i]), int(i[1:])))
        return by_score, exc.usage.as_spend(), f"the critic could not rank ({exc}); ranked by score"
    return [ids[k] for k in ranking.order], ranking.usage.as_spend(), None


def _best_node(nodes: dict[str, dict], best: str | None, candidate: str) -> str:
    if best is None or node_score(nodes[candidate]) > node_score(nodes[best]):
        return candidate
    return best


def select(state: RunState, runtime: Runtime[RunContext]):
    ctx, cfg = runtime.context, runtime.context.policy
    nodes = {k: dict(v) for k, v in state["nodes"].items()}
    step = state.get("step", 0) + 1
    goto = "ask_human" if state.get("mode") == "chat" else "decide"
    ids = [i for i in state.get("new_nodes", []) if nodes[i].get("critique")]
    origin_id = nodes[state["new_nodes"][0]]["origin"] if state.get("new_nodes") else state.get("current")
    origin = nodes[origin_id]
    updates: dict[str, dict] = {}
    if not ids:  # every critique failed: the try counts, nothing moves
        action = Action.model_validate(nodes[state["new_nodes"][0]]["action"])
        tries = dict(origin.get("tries", {}))
        tries[class_key(action)] = tries.get(class_key(action), 0) + 1
        emit(runtime, state, "select", outcome="failed", origin=origin_id)
        return Command(goto=goto, update={"nodes": {origin_id: {"tries": tries}}, "new_nodes": [], "step": step,
                                          "since_best": state.get("since_best", 0) + 1})
    ranked, spend, rank_error = _rank_new(state, runtime, ids)
    for r, nid in enumerate(ranked):
        if len(ranked) > 1:
            updates[nid] = {"sibling_rank": r}
    child_id = ranked[0]
    child = nodes[child_id]
    action = Action.model_validate(child["action"])
    key = class_key(action)

    # What was lost against the origin. Restarts (txt2img) do not branch from the origin's image,
    # so losing its requirements is not drift; they only have to beat it.
    lost: list[str] = []
    restart = action.kind == "txt2img"
    if origin_id != ROOT and not restart:
        held = sorted(passed_ids(origin))
        try:
            report = ctx.critic.drift(ctx.store.load_image(origin["image"]), ctx.store.load_image(child["image"]),
                                      state["brief"], [Requirement.model_validate(r) for r in state["checklist"]],
                                      held, after_critique=load_critique(runtime, child))
            lost = report.lost
            spend = add_numbers(spend, report.usage.as_spend())
        except CriticError as exc:
            # The critiques in hand still say which requirements held and now fail.
            lost = [r for r in held if r in child["critique"]["failed"]]
            spend = add_numbers(spend, exc.usage.as_spend())
            rank_error = f"{rank_error + '; ' if rank_error else ''}drift check by comparison failed ({exc})"
    outside = child.get("outside_change", 0.0) > OUTSIDE_TOLERANCE
    gained = passed_ids(child) - passed_ids(origin)
    better = node_score(child) > node_score(origin)

    best = _best_node(nodes, state.get("best"), child_id)
    improved_best = best != state.get("best")
    origin_update = {}
    strengths = dict(origin.get("strengths", {}))
    counters: dict[str, float] = {}
    backtrack_to = None
    if lost or outside:
        outcome = "drift"
        why = (f"lost {', '.join(lost)} that held at {origin_id}" if lost else "") + \
              (f"{'; ' if lost else ''}changed {child['outside_change']:.1%} of pixels outside the mask"
               if outside else "")
        origin_update["tabu"] = origin.get("tabu", []) + [key]
        if action.strength is not None and action.kind in ("img2img", "variations"):
            # It broke what was right: the next try at this node changes less.
            strengths[action.kind] = round(action.strength - cfg.strength_step, 2)
        counters = {"drifts": 1}
        if best == child_id:
            # It lost something but is still the best node in the tree: that is where to be.
            current = child_id
        else:
            # Back to the best node if the lost requirements hold there, else to the origin.
            backtrack_to = best if set(lost) <= passed_ids(nodes[best]) else origin_id
            current = backtrack_to
    elif better or (gained and not restart):
        # A restart does not build on the origin, so it has to beat it outright.
        outcome, why, current = "progress", f"gained {', '.join(sorted(gained)) or 'score'}", child_id
    elif restart and node_score(child) >= node_score(origin):
        # As good as where the agent stood, with untried fixes of its own: explore it.
        outcome, why, current = "fresh", "a new start scoring as well as the current node", child_id
    else:
        outcome, why, current = "no-progress", "nothing new holds", origin_id
        tries = dict(origin.get("tries", {}))
        tries[key] = tries.get(key, 0) + 1
        origin_update["tries"] = tries
        if action.kind in ("img2img", "variations") and child.get("change", 1.0) < SMALL_CHANGE:
            strengths[action.kind] = round((action.strength or 0.35) + cfg.strength_step, 2)
            why += f"; the image changed only {child.get('change', 0):.1%}, so the strength goes up"
    if strengths != origin.get("strengths", {}):
        origin_update["strengths"] = strengths
    if origin_update:
        updates[origin_id] = {**updates.get(origin_id, {}), **origin_update}
    updates[child_id] = {**updates.get(child_id, {}), "outcome": outcome, "lost": lost}

    # A fresh branch gets its own plateau window; a restart that lost to the current node does not.
    since_best = 0 if improved_best or (restart and current == child_id) else state.get("since_best", 0) + 1
    below = state.get("below_best", 0) + 1 if node_score(nodes[current]) < node_score(nodes[best]) else 0
    if backtrack_to is None and below >= cfg.stagnation_k:
        backtrack_to, why = best, f"{why}; {below} steps below the best node {best}"
        outcome = "stagnation"
    emit(runtime, state, "select", node_id=child_id, origin=origin_id, outcome=outcome, reason=why,
         score=node_score(child), best=best, ranked=ranked if len(ranked) > 1 else None, critic_error=rank_error)
    update = {"nodes": updates, "new_nodes": [], "best": best, "since_best": since_best, "below_best": below,
              "step": step, "spend": spend, "counters": counters}
    if backtrack_to is not None:
        # Recorded even when the target is where the edit started: the drifted branch is abandoned
        # and the tree shows the return.
        update["decision"] = {"backtrack_to": backtrack_to, "reason": why, "from": child_id, "outcome": outcome}
        return Command(goto="backtrack", update=update)
    update["current"] = current
    return Command(goto=goto, update=update)
