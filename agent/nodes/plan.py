"""plan: the brief becomes a fixed checklist and a starting prompt."""
from __future__ import annotations

from langgraph.runtime import Runtime

from agent.context import RunContext
from agent.nodes.common import emit
from agent.policy import ROOT
from agent.state import RunState


def plan(state: RunState, runtime: Runtime[RunContext]) -> dict:
    ctx = runtime.context
    spend: dict[str, float] = {}
    if state.get("checklist"):
        # Planned at the edge (the CLI validates a brief before it makes a run folder).
        checklist, prompt, negative = state["checklist"], state["prompt"], state.get("negative_prompt")
        source = "given"
    else:
        p = ctx.critic.plan(state["brief"])
        checklist = [r.model_dump(mode="json") for r in p.checklist]
        prompt, negative = p.prompt, p.negative_prompt
        spend = p.usage.as_spend()
        source = ctx.critic.name
    emit(runtime, state, "plan", checklist=[f"{r['id']}: {r['text']}" for r in checklist], prompt=prompt,
         source=source)
    return {
        "checklist": checklist, "prompt": prompt, "negative_prompt": negative, "current": ROOT, "best": None,
        "nodes": {ROOT: {"id": ROOT, "parent": None, "depth": 0, "prompt": prompt, "critique": None}},
        "spend": spend, "step": state.get("step", 0) + 1, "status": "running", "since_best": 0,
        "below_best": 0, "critic_failures": 0, "next_seed": state.get("next_seed", state.get("seed", 0)),
    }
