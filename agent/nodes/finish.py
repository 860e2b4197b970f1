"""finish: the best node is the answer; write the report and the final event."""
from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import RunContext
from agent.nodes.common import emit
from agent.report import write_report
from agent.state import RunState, node_score


def finish(state: RunState, runtime: Runtime[RunContext]) -> dict:
    status = state.get("status") or "stopped"
    if status == "running":
        status = "stopped"
    best = state.get("best")
    update = {"status": status, "step": state.get("step", 0) + 1}
    final = {**state, **update}
    write_report(runtime.context.store, final, runtime.context.budget)
    emit(runtime, state, "finish", status=status, reason=state.get("stop_reason"), best=best,
         best_score=node_score(state["nodes"][best]) if best else None, spend=state.get("spend"),
         counters=state.get("counters"))
    return update
