"""decide: the policy picks the next move (agent/policy/next_action.py); this records it, fixes its
seeds and routes: to a rewrite when the action still needs a prompt, to generate, or to finish — or,
in a chat whose person picked another image, back to them with the image it would accept
(agent/policy/person.py)."""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.nodes.common import emit, sampler_steps
from agent.policy import belief, next_move, person
from agent.status import Status


def decide(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    d = next_move(state, ctx.policy, ctx.budget, trust_critic=ctx.critic.exact, steps=sampler_steps(ctx))
    step = state.get("step", 0) + 1
    offer = person.offer(state) if d.route == "accept" else None
    if offer:  # the person picked another image: it stays the answer until they accept this one
        emit(ctx, state, "decide", decision="offer", reason=f"{d.reason}; {offer}", notes=d.notes)
        return Command(goto="ask_human", update={"offer": offer, "step": step})
    if d.route in ("stop", "accept"):
        status = Status.ACCEPTED if d.route == "accept" else d.status
        emit(ctx, state, "decide", decision=d.route, status=status.value, reason=d.reason, notes=d.notes)
        update = {"status": status.value, "stop_reason": d.reason, "decision": d.model_dump(mode="json"),
                  "step": step}
        if d.route == "accept":
            update["best"] = belief.answer_on_accept(state.get("current"))
        return Command(goto="finish", update=update)
    # Seeds are fixed here, before the action is checkpointed, so a resumed run makes the same images.
    first = state.get("next_seed", 0)
    action = d.action.model_copy(update={"seeds": [first + i for i in range(d.action.generations)]})
    d = d.model_copy(update={"action": action})
    emit(ctx, state, "decide", decision=action.kind, action=action.to_state(), reason=d.reason,
         notes=d.notes, source=action.source)
    return Command(goto="rewrite_prompt" if d.rewrite else "generate", update={
        "pending": action.to_state(), "rewrite": d.rewrite, "decision": d.model_dump(mode="json"), "step": step,
        "next_seed": first + len(action.seeds)})
