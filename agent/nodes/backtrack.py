"""backtrack: return to an earlier node of the tree after drift or stagnation."""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext
from agent.nodes.common import emit
from agent.state import RunState


def backtrack(state: RunState, runtime: Runtime[RunContext]):
    d = state["decision"]
    target = d["backtrack_to"]
    emit(runtime, state, "backtrack", to=target, away_from=d.get("from"), reason=d.get("reason"),
         outcome=d.get("outcome"))
    goto = "ask_human" if state.get("mode") == "chat" else "decide"
    return Command(goto=goto, update={"current": target, "below_best": 0, "step": state.get("step", 0) + 1,
                                      "counters": {"backtracks": 1}})
