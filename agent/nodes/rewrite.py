"""rewrite_prompt: a new prompt for a rebuild, or the prompt for an inpaint region."""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.contracts import Action, Defect, Requirement
from agent.context import RunContext
from agent.critics.base import CriticError
from agent.nodes.common import emit, load_critique, node_prompt
from agent.state import RunState


def rewrite_prompt(state: RunState, runtime: Runtime[RunContext]):
    ctx = runtime.context
    action = Action.model_validate(state["pending"])
    job = (state.get("decision") or {}).get("job") or "prompt"
    node = state["nodes"][state["current"]]
    current_prompt = node_prompt(state, state["current"])
    checklist = [Requirement.model_validate(r) for r in state["checklist"]]
    crit = load_critique(runtime, node)
    # Only rewriters that look at the image get it; decoding it for one that does not is waste.
    image = ctx.store.load_image(node["image"]) if node.get("image") and ctx.rewriter.wants_image else None
    update: dict = {"step": state.get("step", 0) + 1}
    try:
        if job == "region":
            region = action.regions[0]
            defect = next((Defect.model_validate(d) for d in crit.defects if d.region == region), None) if crit \
                else None
            defect = defect or Defect(kind="replace", description="repaint the region", region=region,
                                      requirement_ids=crit.failed_ids if crit else [])
            rw = ctx.rewriter.region_prompt(state["brief"], checklist, defect, crit, current_prompt, image=image)
        else:
            tried = list(dict.fromkeys(state.get("tried_prompts", []) + [current_prompt, state["prompt"]]))
            rw = ctx.rewriter.rewrite(state["brief"], checklist, crit, current_prompt, tried, state.get("hints"),
                                      image=image)
    except CriticError as exc:
        # A rewriter that cannot answer is not fatal: the action goes ahead with the current prompt.
        emit(runtime, state, "rewrite_prompt", key="error", job=job, error=str(exc)[:300], kept=current_prompt)
        rw = None
        update["spend"] = exc.usage.as_spend()
    if rw is not None:
        update["spend"] = rw.usage.as_spend()
    if rw is None or rw.prompt is None:
        prompt = current_prompt
        reason = f"no untried rewrite ({rw.reason if rw else 'rewriter failed'}); same prompt, new seed"
    else:
        prompt, reason = rw.prompt, rw.reason
        if job != "region":
            update["tried_prompts"] = [prompt]
    emit(runtime, state, "rewrite_prompt", job=job, prompt=prompt, reason=reason,
         rewriter=ctx.rewriter.name)
    update["pending"] = action.model_copy(update={"prompt": prompt}).to_state()
    return Command(goto="generate", update=update)
