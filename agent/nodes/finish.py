"""finish: the best node is the answer; write the report and the final event.

The status was set by whoever stopped the run (policy/next_action.py on accept, policy/stopping.py,
a person in chat); a run that reaches here still "running" was stopped from outside.
"""
from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import RunContext, context_of
from agent.nodes.common import emit
from agent.policy import belief, person
from agent.report import write_report
from agent.status import Status, status_of
from agent.tree import Tree


def finish(state: dict, runtime: Runtime[RunContext]) -> dict:
    ctx = context_of(runtime, state)
    status = status_of(state.get("status"))
    if status == Status.RUNNING:
        status = Status.STOPPED
    best = person.answer({**state, "status": status.value})  # the person's pick, unless they accepted another
    update = {"status": status.value, "step": state.get("step", 0) + 1, "best": best}
    write_report(ctx.store, {**state, **update}, ctx.budget)
    emit(ctx, state, "finish", status=status.value, reason=state.get("stop_reason"), best=best,
         best_score=belief.score(Tree(state["nodes"])[best]) if best else None, spend=state.get("spend"),
         counters=state.get("counters"))
    return update
