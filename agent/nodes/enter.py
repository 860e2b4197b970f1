"""enter: where every invocation of the graph starts.

A new run goes to plan. A finished run re-entered (the run lifecycle passes ``reopen``: the budget
was raised, the critic is back, or a person continues from a node) picks up where it stopped: the
critiques it still owes when the critic was the problem, else the next decision (in chat, the
next question). This is the graph's own way back in, so resuming never patches state by hand.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.nodes.common import emit
from agent.store import new_run_id
from agent.status import CRITIC_TROUBLE, Status, status_of
from agent.tree import Tree
from tools.errors import InputError


def enter(state: dict, runtime: Runtime[RunContext]):
    if not state.get("checklist"):
        # A graph started without the lifecycle (LangGraph Studio) names its own run folder.
        return Command(goto="plan", update={"run_id": state.get("run_id") or new_run_id(state.get("brief"))})
    ctx = context_of(runtime, state)
    reopen = state.get("reopen") or {"reason": "continue"}
    step = state.get("step", 0) + 1
    status = status_of(state.get("status"))
    update: dict = {"reopen": None, "status": Status.RUNNING.value, "stop_reason": None, "step": step}
    target = reopen.get("node")
    if target:
        tree = Tree(state["nodes"])
        if target not in tree or not tree[target].critique:
            raise InputError(f"cannot continue from {target!r}: it is not a critiqued image of this run")
        update.update({"current": target, "below_best": 0, "new_nodes": []})
    emit(ctx, state, "enter", reason=reopen.get("reason"), node_id=target, was=status.value)
    if status in CRITIC_TROUBLE and state.get("new_nodes") and not target:
        return Command(goto="critique", update={**update, "critic_failures": 0})
    update["since_best"] = 0  # a fresh window: what is left of the budget is for finding a better image
    return Command(goto="ask_human" if state.get("mode") == "chat" else "decide", update=update)
