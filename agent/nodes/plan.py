"""plan: the brief becomes a fixed checklist and a starting prompt; the tree gets its root.

The root is the brief itself, or the person's own image when they brought one: then it is
critiqued like any other image and the first step is an edit of it, not a txt2img.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.nodes.common import emit
from agent.status import Status
from agent.tree import ROOT, root_node
from tools.errors import InputError


def plan(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    p = ctx.critic.plan(state["brief"])
    if not p.checklist:
        raise InputError(f"the critic found nothing checkable in the brief {state['brief']!r}; say what should "
                         "be seen")
    checklist = [r.model_dump(mode="json") for r in p.checklist]
    emit(ctx, state, "plan", checklist=[f"{r['id']}: {r['text']}" for r in checklist], prompt=p.prompt,
         source=ctx.critic.name, start_image=state.get("start_image"))
    start = state.get("start_image")
    root = root_node(p.prompt, image=start,
                     image_hash=ctx.store.image_digest(start) if start else None)
    update = {
        "checklist": checklist, "prompt": p.prompt, "negative_prompt": p.negative_prompt, "current": ROOT,
        "best": None, "nodes": {ROOT: root.to_state()}, "spend": p.usage.as_spend(),
        "step": state.get("step", 0) + 1, "status": Status.RUNNING.value, "since_best": 0, "below_best": 0,
        "critic_failures": 0, "next_seed": state.get("seed", 0), "hints": [], "counters": {},
    }
    if start:  # the person's image is judged first; the agent then edits it
        return Command(goto="critique", update={**update, "new_nodes": [ROOT]})
    return Command(goto="decide", update=update)
