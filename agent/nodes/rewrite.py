"""rewrite_prompt: a new prompt for a rebuild, or the prompt for an inpaint region.

An inpaint's strength and colour guide follow from its region prompt, so they are completed here
(agent/policy/strength.py) once that prompt is written.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.contracts import Action, Defect
from agent.nodes.common import checklist_of, emit, load_critique, node_prompt, sampler_steps
from agent.policy import strength
from agent.rewriters.base import RewriterError
from agent.tree import Tree


def rewrite_prompt(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    action = Action.model_validate(state["pending"])
    job = state.get("rewrite") or "prompt"
    node = Tree(state["nodes"])[state["current"]]
    current_prompt = node_prompt(state, node)
    checklist = checklist_of(state)
    crit = load_critique(ctx, node)
    # Only rewriters that look at the image get it; decoding it for one that does not is waste.
    image = ctx.store.load_image(node.image) if node.image and ctx.rewriter.wants_image else None
    update: dict = {"step": state.get("step", 0) + 1, "rewrite": None}
    try:
        if job == "region":
            region = action.regions[0]
            defect = next((d for d in crit.defects if d.region == region), None) if crit else None
            defect = defect or Defect(kind="replace", description="repaint the region", region=region,
                                      requirement_ids=crit.failed_ids if crit else [])
            rw = ctx.rewriter.region_prompt(state["brief"], checklist, defect, crit, current_prompt, image=image)
        else:
            rw = ctx.rewriter.layout_prompt(state["brief"], checklist, action.layout, state["prompt"]) \
                if job == "layout" and action.layout else None
            if rw is None or rw.prompt is None:  # a plain rewrite (also where a layout cannot be written)
                tried = list(dict.fromkeys(state.get("tried_prompts", []) + [current_prompt, state["prompt"]]))
                rw = ctx.rewriter.rewrite(state["brief"], checklist, crit, current_prompt, tried, state.get("hints"),
                                          image=image)
    except RewriterError as exc:
        # A rewriter that cannot answer is not fatal: the action goes ahead with the current prompt.
        emit(ctx, state, "rewrite_prompt", key="error", job=job, error=str(exc)[:300], kept=current_prompt)
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
    emit(ctx, state, "rewrite_prompt", job=job, prompt=prompt, reason=reason, rewriter=ctx.rewriter.name)
    action = action.model_copy(update={"prompt": prompt})
    if action.kind == "inpaint":
        action = strength.complete_inpaint(action, ctx.policy, sampler_steps(ctx))
    update["pending"] = action.to_state()
    return Command(goto="generate", update=update)
