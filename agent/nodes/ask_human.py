"""ask_human (chat mode): show the person the critique and take their word (agent/answers.py).

This node only interrupts; all GPU work happens before it, because a resumed node re-runs from
its start. What each answer leads to:

    accept                    the current image is the answer
    continue                  the agent decides the next move
    feedback "text"           a rewrite hint (and a requirement, where the critic can check it), then a rebuild
    pick NODE                 choose one of the last variations (recorded as a preference)
    branch NODE               continue from any critiqued node of the tree
    region [x0,y0,x1,y1] "…"  redo a region (its prompt optional: the rewriter writes one)
    vary [strength]           variations of the current image, to pick from
    stop                      stop here; the best image is kept
"""
from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from agent.answers import ANSWERS, Branch, Feedback, Pick, RedoRegion, Vary, read_answer
from agent.context import RunContext, context_of
from agent.contracts import Action
from agent.nodes.common import checklist_of, emit, load_critique, sampler_steps
from agent.policy import belief, strength
from agent.policy.stopping import before_action, remaining_images
from agent.status import Status
from agent.tree import ROOT, Tree


def _question(ctx: RunContext, state: dict, tree: Tree) -> dict[str, Any]:
    cur = tree[state["current"]]
    crit = load_critique(ctx, cur)
    batch = tree.last_batch()
    return {
        "node": cur.id, "image": cur.image, "score": belief.score(cur), "best": state.get("best"),
        # The critic's verdicts corrected by witnesses and pixel checks (policy/belief.py).
        "verdicts": belief.verdicts(cur, [v.model_dump(include={"id", "passed", "evidence"})
                                          for v in crit.verdicts]) if crit else [],
        "variations": [{"node": i, "image": tree[i].image, "score": belief.score(tree[i])} for i in batch]
        if len(batch) > 1 else [],
        "report": str(ctx.store.report_path), "options": list(ANSWERS), "error": state.get("question_error"),
    }


def ask_human(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    tree = Tree(state["nodes"])
    current = state.get("current") or ROOT
    if tree[current].critique is None:  # nothing to show yet
        return Command(goto="decide")
    from agent.report import write_report  # the person may want to look at the tree first

    write_report(ctx.store, state, ctx.budget)
    raw = interrupt(_question(ctx, state, tree))
    step = state.get("step", 0) + 1

    def again(msg: str):
        return Command(goto="ask_human", update={"question_error": msg, "step": step})

    try:
        answer = read_answer(raw)
    except ValueError as exc:
        return again(str(exc))
    emit(ctx, state, "ask_human", answer=answer.model_dump(mode="json"), node_id=current)
    done = {"step": step, "question_error": None}
    kind = answer.action
    if kind == "accept":
        return Command(goto="finish", update={**done, "status": Status.ACCEPTED.value, "best": current,
                                              "stop_reason": "accepted by the person"})
    if kind == "stop":
        return Command(goto="finish", update={**done, "status": Status.STOPPED.value,
                                              "stop_reason": "stopped by the person"})
    if kind == "continue":
        return Command(goto="decide", update=done)
    if isinstance(answer, Branch):
        if answer.node not in tree or tree[answer.node].critique is None:
            return again(f"continue from a critiqued image of this run, e.g. {', '.join(tree.imaged()[-3:])}")
        return Command(goto="ask_human", update={**done, "current": answer.node, "below_best": 0})
    if isinstance(answer, Pick):
        return _pick(ctx, state, tree, answer, done, again)
    stop = before_action(state, ctx.policy, ctx.budget)
    if stop:  # feedback, regions and variations make images: not past the budget
        return again(f"{stop.reason}; accept, stop, or resume later with a larger --budget")
    first = state.get("next_seed", 0)
    if isinstance(answer, Feedback):
        extra = ctx.critic.feedback_requirements(answer.text, state["brief"], checklist_of(state))
        action = Action(kind="img2img", strength=strength.for_feedback(ctx.policy), source="human",
                        reason=f"feedback: {answer.text}", seeds=[first])
        return Command(goto="rewrite_prompt", update={
            **done, "hints": state.get("hints", []) + [answer.text],
            "checklist": state["checklist"] + [r.model_dump(mode="json") for r in extra],
            "pending": action.to_state(), "rewrite": "prompt", "next_seed": first + 1})
    if isinstance(answer, Vary):
        n = int(min(ctx.policy.variations_n, remaining_images(state.get("spend", {}), ctx.budget)))
        asked = strength.for_person_vary(answer.strength, ctx.policy)
        if strength.runnable(asked, sampler_steps(ctx)) != asked:
            return again(f"strength {asked:g} makes no denoising step with {sampler_steps(ctx)} steps; use at least "
                         f"{strength.runnable(asked, sampler_steps(ctx)):g}")
        action = Action(kind="variations", n=n, strength=asked,
                        source="human", reason=f"the person asked for {n} variations",
                        seeds=[first + i for i in range(n)])
        return Command(goto="generate", update={**done, "pending": action.to_state(), "next_seed": first + n})
    assert isinstance(answer, RedoRegion)
    action = Action(kind="inpaint", regions=[answer.region], prompt=answer.prompt or None,
                    strength=strength.provisional_inpaint(ctx.policy), source="human",
                    reason="the person marked this region", seeds=[first])
    if action.prompt:
        action = strength.complete_inpaint(action, ctx.policy)
    return Command(goto="generate" if action.prompt else "rewrite_prompt", update={
        **done, "pending": action.to_state(), "rewrite": None if action.prompt else "region",
        "next_seed": first + 1})


def _pick(ctx: RunContext, state: dict, tree: Tree, answer: Pick, done: dict, again):
    batch = tree.last_batch()
    if len(batch) < 2 or answer.node not in batch:
        return again(f"pick one of the last variations: {', '.join(batch) if len(batch) > 1 else 'none to pick from'}")
    critic_pick = next((i for i in batch if tree[i].sibling_rank == 0), None)
    ctx.store.append_pick({
        "pick_id": f"{state.get('run_id')}:{state.get('step', 0)}", "run_id": state.get("run_id"),
        "brief": state["brief"], "chosen": tree[answer.node].image,
        "rejected": [tree[i].image for i in batch if i != answer.node], "critic": ctx.critic.name,
        "critic_preference": tree[critic_pick].image if critic_pick else None,
        "node_ids": {"chosen": answer.node, "rejected": [i for i in batch if i != answer.node]},
    })
    return Command(goto="decide", update={**done, "current": answer.node, "counters": {"human_picks": 1}})
