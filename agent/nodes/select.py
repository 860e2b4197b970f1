"""select: rank the new images, check the best one for drift, and apply the policy's judgement.

What the judgement needs that only the world can say is gathered here — the critic's ranking of
variations, its drift check against the origin's image — and policy/outcome.py decides what it
means. The root's own critique (a person's start image) needs no judgement: it is where the run
stands; neither does an earlier image judged again after the person changed the brief.

An edit a person asked for (a region, feedback) is read against their request first
(policy/amend.py): what it lost changes the brief, or the person is asked — never a silent
return to where it started.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.contracts import Action
from agent.critics.base import CriticError
from agent.nodes.common import amended, amendment_words, checklist_of, emit, load_critique
from agent.policy import amend, belief, witness
from agent.policy import outcome as policy_outcome
from agent.state import add_numbers
from agent.tree import ROOT, Tree


def _rank_new(ctx: RunContext, state: dict, tree: Tree, ids: list[str]) -> tuple[list[str], dict, str | None]:
    """New nodes best first (variations are ranked by the critic), what the ranking cost, and the
    critic's error if it could not rank (then the critique scores decide)."""
    if len(ids) == 1:
        return ids, {}, None
    images = [ctx.store.load_image(tree[i].image) for i in ids]
    critiques = [load_critique(ctx, tree[i]) for i in ids]
    try:
        ranking = ctx.critic.rank(images, state["brief"], checklist_of(state), critiques=critiques)
    except CriticError as exc:
        return belief.by_score(tree, ids), exc.usage.as_spend(), f"the critic could not rank ({exc}); ranked by score"
    return [ids[k] for k in ranking.order], ranking.usage.as_spend(), None


def _lost(ctx: RunContext, state: dict, tree: Tree, origin_id: str,
          child_id: str) -> tuple[list[str], dict, str | None]:
    """Requirements that held at the origin and fail in the child, by the critic's drift check."""
    origin, child = tree[origin_id], tree[child_id]
    held = sorted(belief.passed(origin))
    try:
        report = ctx.critic.drift(ctx.store.load_image(origin.image), ctx.store.load_image(child.image),
                                  state["brief"], checklist_of(state), held,
                                  after_critique=load_critique(ctx, child))
    except CriticError as exc:
        # The critiques in hand still say which requirements held and now fail.
        return policy_outcome.losses(held, child.critique.failed), exc.usage.as_spend(), \
            f"drift check by comparison failed ({exc})"
    return report.lost, report.usage.as_spend(), None


def select(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    tree = Tree(state["nodes"])
    step = state.get("step", 0) + 1
    goto = "ask_human" if state.get("mode") == "chat" else "decide"
    new = state.get("new_nodes") or []
    if not new:
        return Command(goto=goto, update={"step": step})
    if new == [ROOT]:  # the person's start image, now critiqued
        emit(ctx, state, "select", node_id=ROOT, outcome="start", score=belief.score(tree[ROOT]))
        return Command(goto=goto, update={"new_nodes": [], "step": step, "current": ROOT,
                                          "best": ROOT if tree[ROOT].critique else None})
    if state.get("rejudge"):  # an earlier image, judged again against the brief as the person changed it
        emit(ctx, state, "select", node_id=new[0], outcome="rejudged", score=belief.score(tree[new[0]]))
        return Command(goto=goto, update={"new_nodes": [], "step": step, "current": new[0], "rejudge": False,
                                          "best": belief.best(tree), "below_best": 0})
    origin_id = tree[new[0]].origin
    action = Action.model_validate(tree[new[-1]].action)  # a chain's last image carries the whole action
    ids = [i for i in new if tree[i].critique]
    if not ids:
        j = policy_outcome.judge_unjudged(tree, origin_id, action, state)
        emit(ctx, state, "select", outcome="failed", origin=origin_id)
        return Command(goto=goto, update={"nodes": j.node_updates, "new_nodes": [], "step": step,
                                          "since_best": j.since_best})
    if action.check:  # a witness: it confirms or disputes the node it redrew
        j = witness.judge_witness(tree, action.check, ids[0], state, ctx.policy)
        emit(ctx, state, "select", node_id=ids[0], origin=action.check, outcome=j.outcome, reason=j.reason,
             score=belief.score(tree[ids[0]]), best=j.best)
        return Command(goto=goto, update={"nodes": j.node_updates, "new_nodes": [], "best": j.best, "step": step,
                                          "since_best": j.since_best, "current": j.current, "counters": j.counters})
    if action.then is not None:  # the steps of one move are not siblings: the best of them, the last on a tie
        ranked, spend, note = sorted(ids, key=lambda i: (-belief.score(tree[i]), -tree[i].seq)), {}, None
        updates = {}
    else:
        ranked, spend, note = _rank_new(ctx, state, tree, ids)
        updates = {nid: {"sibling_rank": r} for r, nid in enumerate(ranked)} if len(ranked) > 1 else {}
    child_id = ranked[0]
    lost: list[str] = []
    if policy_outcome.needs_drift_check(tree[origin_id], action):
        lost, cost, drift_note = _lost(ctx, state, tree, origin_id, child_id)
        spend = add_numbers(spend, cost)
        note = "; ".join(n for n in (note, drift_note) if n) or None
    request = state.get("edit_request")
    if request and action.source == "human":
        read = _read_request(ctx, state, request, lost, origin_id)
        if read.question:  # their word first: the edit stays in view, nothing is undone
            emit(ctx, state, "select", node_id=child_id, origin=origin_id, outcome="ask", question=read.question,
                 score=belief.score(tree[child_id]))
            return Command(goto="ask_human", update={
                "nodes": updates, "new_nodes": [], "step": step, "spend": spend, "current": child_id,
                "edit_request": None, "amend_question": {
                    "question": read.question, "detail": read.detail, "node": child_id, "origin": origin_id,
                    "lost": lost, "amendment": read.amendment.to_state()}})
        if read.amendment:  # the brief follows the person; their image is judged against it
            emit(ctx, state, "select", node_id=child_id, origin=origin_id, outcome="amended",
                 amendment=amendment_words(read.amendment))
            change = amended(state, read.amendment, child_id)
            return Command(goto="critique", update={
                **change, "nodes": {**updates, child_id: {**updates.get(child_id, {}), **change["nodes"][child_id]}},
                "step": step, "spend": spend, "edit_request": None})
    j = policy_outcome.judge(tree, origin_id, child_id, action, lost, state, ctx.policy,
                             trust_critic=ctx.critic.exact)
    for nid, fields in j.node_updates.items():
        updates[nid] = {**updates.get(nid, {}), **fields}
    emit(ctx, state, "select", node_id=child_id, origin=origin_id, outcome=j.outcome, reason=j.reason,
         score=belief.score(tree[child_id]), best=j.best, ranked=ranked if len(ranked) > 1 else None, critic_error=note)
    update = {"nodes": updates, "new_nodes": [], "best": j.best, "since_best": j.since_best,
              "below_best": j.below_best, "step": step, "spend": spend, "counters": j.counters}
    if request:
        update["edit_request"] = None
    if j.backtrack_to is not None:
        # Recorded even when the target is where the edit started: the drifted branch is abandoned
        # and the tree shows the return.
        return Command(goto="backtrack", update={**update, "judgement": j.model_dump(mode="json")})
    return Command(goto=goto, update={**update, "current": j.current})


def _read_request(ctx: RunContext, state: dict, request: dict, lost: list[str], origin: str) -> amend.Reading:
    """What the person's edit means for the brief. A free-form request the critic can check becomes
    requirements by the critic's own reading (a feedback's were added when it was given)."""
    text = request.get("text")
    proposed = ctx.critic.feedback_requirements(text, state["brief"], checklist_of(state)) \
        if text and request.get("kind") == "region" else []
    return amend.read_edit(state["checklist"], state["brief"], text, request.get("kind", "region"), lost,
                           state.get("checklist_version", 0), proposed, origin)
