"""enter: where every invocation of the graph starts.

A new run goes to plan. A finished run re-entered (the run lifecycle passes ``reopen``: the budget
was raised, the critic is back, or a person continues from a node) picks up where it stopped: the
critiques it still owes when the critic was the problem, else the next decision (in chat, the
next question), as agent/policy/stopping.py's ``reentry`` says. This is the graph's own way back
in, so resuming never patches state by hand.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.nodes.common import emit
from agent.store import new_run_id
from agent.policy import amend, stopping
from agent.status import Status, status_of


def enter(state: dict, runtime: Runtime[RunContext]):
    if not state.get("checklist"):
        # A graph started without the lifecycle (LangGraph Studio) names its own run folder.
        return Command(goto="plan", update={"run_id": state.get("run_id") or new_run_id(state.get("brief"))})
    ctx = context_of(runtime, state)
    reopen = state.get("reopen") or {"reason": "continue"}
    target = reopen.get("node")
    where = stopping.reentry(state, target)
    emit(ctx, state, "enter", reason=reopen.get("reason"), node_id=target,
         was=status_of(state.get("status")).value)
    update = {"reopen": None, "status": Status.RUNNING.value, "stop_reason": None, "step": state.get("step", 0) + 1,
              **where.update}
    if where.to == "critique":
        return Command(goto="critique", update=update)
    if target and amend.stale(state["nodes"][target], state):  # judged before the person changed the brief
        return Command(goto="critique", update={**update, "new_nodes": [target], "rejudge": True})
    return Command(goto="ask_human" if state.get("mode") == "chat" else "decide", update=update)
