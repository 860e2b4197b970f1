"""decide: the rules pick the next move; the reason is recorded with it."""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.nodes.common import emit
from agent.policy import decide as decide_rules
from agent.state import RunState


def decide(state: RunState, runtime: Runtime[RunContext]):
    d = decide_rules(state, runtime.context.policy, runtime.context.budget)
    step = state.get("step", 0) + 1
    record = {"route": d.route, "reason": d.reason, "notes": d.notes, "node": state.get("current")}
    if d.route in ("stop", "accept"):
        status = "accepted" if d.route == "accept" else d.status
        emit(runtime, state, "decide", decision=d.route, status=status, reason=d.reason, notes=d.notes)
        update = {"status": status, "stop_reason": d.reason, "decision": record, "step": step}
        if d.route == "accept":  # what was accepted is the answer, whatever another node scored
            update["best"] = state.get("current")
        return Command(goto="finish", update=update)
    # Seeds are fixed here, before the action is checkpointed, so a resumed run makes the same images.
    first = state.get("next_seed", 0)
    action = d.action.model_copy(update={"seeds": [first + i for i in range(max(1, d.action.generations))]})
    record["action"] = action.to_state()
    record["job"] = d.job
    emit(runtime, state, "decide", decision=action.kind, action=action.to_state(), reason=d.reason,
         notes=d.notes, source=action.source)
    goto = "rewrite_prompt" if d.route == "rewrite" else "generate"
    return Command(goto=goto, update={"pending": action.to_state(), "decision": record, "step": step,
                                      "next_seed": first + len(action.seeds)})
