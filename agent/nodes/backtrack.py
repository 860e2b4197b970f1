"""backtrack: return to the earlier node the policy's judgement named (after drift or stagnation)."""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.nodes.common import emit
from agent.policy import Judgement


def backtrack(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    j = Judgement.model_validate(state["judgement"])
    emit(ctx, state, "backtrack", to=j.backtrack_to, away_from=j.child, reason=j.reason, outcome=j.outcome)
    goto = "ask_human" if state.get("mode") == "chat" else "decide"
    return Command(goto=goto, update={"current": j.backtrack_to, "below_best": 0, "judgement": None,
                                      "step": state.get("step", 0) + 1, "counters": {"backtracks": 1}})
