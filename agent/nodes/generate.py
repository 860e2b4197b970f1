"""generate: carry out the decided action with one engine call; every image goes to disk."""
from __future__ import annotations

import numpy as np
from langgraph.runtime import Runtime
from langgraph.types import Command
from PIL import Image, ImageChops

from agent.contracts import Action
from agent.guides import guide_for
from agent.context import RunContext
from agent.nodes.common import emit, node_prompt
from agent.policy import ROOT, class_key
from agent.state import RunState
from tools.engine.masks import changed_outside, region_mask
from tools.errors import UnsupportedTaskError


def _union_mask(regions, size, pad) -> Image.Image:
    mask = Image.new("L", size, 0)
    for r in regions:
        mask = ImageChops.lighter(mask, region_mask(r, size, pad))
    return mask


def _mean_change(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel change, 0..1: how much an edit actually moved the image."""
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean() / 255)


def run_action(ctx: RunContext, action: Action, prompt: str, source: Image.Image | None):
    """One engine call for an action. Returns the engine's record."""
    gen, cfg, eng = ctx.generation, ctx.policy, ctx.engine
    common = {"negative_prompt": action.negative_prompt, "steps": gen.steps, "guidance": gen.guidance}
    if action.kind == "txt2img":
        return eng.txt2img(prompt, seed=action.seeds[0], width=gen.width, height=gen.height, **common)
    if action.kind == "img2img":
        return eng.img2img(source, prompt, strength=action.strength, seed=action.seeds[0], **common)
    if action.kind == "inpaint":
        single = len(action.regions) == 1
        guide = guide_for(prompt, None if single else action.regions[0]) if cfg.inpaint_guide else None
        strength = action.strength or cfg.inpaint_strength
        if guide is None:
            # A strength chosen for a primed region would leave an unprimed one as it was.
            strength = max(strength, cfg.inpaint_strength)
        where = {"region": action.regions[0], "pad": cfg.pad} if single else \
            {"mask": _union_mask(action.regions, source.size, cfg.pad)}
        return eng.inpaint(source, prompt, strength=strength, seed=action.seeds[0], feather=cfg.feather,
                           guide=guide, **where, **common)
    if action.kind == "variations":
        return eng.variations(source, prompt, n=len(action.seeds), strength=action.strength or 0.35,
                              seeds=action.seeds, **common)
    raise ValueError(f"generate cannot carry out {action.kind!r}")


def generate(state: RunState, runtime: Runtime[RunContext]):
    ctx = runtime.context
    action = Action.model_validate(state["pending"])
    nodes = state["nodes"]
    origin = state.get("current") or ROOT
    parent_id = ROOT if action.kind == "txt2img" else origin
    parent = nodes[parent_id]
    prompt = action.prompt or node_prompt(state, origin)
    source = ctx.store.load_image(parent["image"]) if action.kind != "txt2img" else None
    step = state.get("step", 0)
    try:
        record = run_action(ctx, action, prompt, source)
    except UnsupportedTaskError as exc:
        # The checkpoint cannot do this kind of edit: ban it where decide looks for it (txt2img at
        # the root, edits at their origin) and let decide pick another.
        where = ROOT if action.kind == "txt2img" else origin
        emit(runtime, state, "generate", key="unsupported", action=action.to_state(), error=str(exc))
        return Command(goto="decide", update={
            "pending": None, "step": step + 1,
            "nodes": {where: {"tabu": nodes[where].get("tabu", []) + [class_key(action)]}}})
    children: dict[str, dict] = {}
    new_ids: list[str] = []
    first = sum(1 for n in nodes if n != ROOT) + 1
    params = {k: v for k, v in record.params.items() if k not in ("prompt", "negative_prompt")}
    for i, image in enumerate(record.images):
        node_id = f"n{first + i}"
        meta = {"run_id": state.get("run_id"), "node": node_id, **record.metadata(i)}
        rel, digest = ctx.store.save_image(image, meta)
        child = {
            "id": node_id, "parent": parent_id, "origin": origin, "depth": parent.get("depth", 0) + 1,
            "action": action.model_copy(update={"prompt": prompt}).to_state(), "prompt": prompt,
            "scene_prompt": node_prompt(state, origin) if action.kind == "inpaint" else prompt,
            "negative_prompt": action.negative_prompt, "seed": record.seeds[i], "params": params,
            "image": rel, "image_hash": digest, "engine_seconds": round(record.wall_time / len(record.images), 4),
            "critique": None, "step": step,
        }
        if source is not None:
            child["change"] = round(_mean_change(source, image), 4)
        if action.kind == "inpaint":
            # With paste-back this is 0 by construction; measured anyway, because drift is defined
            # by what the pixels did, not by what the engine promised.
            child["outside_change"] = round(changed_outside(source, image, record.extras["soft_mask"]), 5)
        children[node_id] = child
        new_ids.append(node_id)
    emit(runtime, state, "generate", action=action.kind, params={**params, "prompt": prompt},
         seeds=record.seeds, nodes=new_ids, images=[children[n]["image"] for n in new_ids],
         parent=parent_id, origin=origin, engine_seconds=round(record.wall_time, 4),
         reason=action.reason)
    return Command(goto="critique", update={
        "nodes": children, "new_nodes": new_ids, "pending": None, "step": step + 1,
        "spend": {"generations": len(record.images), "engine_seconds": round(record.wall_time, 4)},
    })
