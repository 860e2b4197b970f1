"""generate: carry out the pending action with one engine call, exactly as decided; every image
goes to disk and becomes a node of the tree. A person who stops an image while it is made (the
studio's Cancel, through the context's step hook) gets nothing half-made: the cancel is recorded
and they are asked again where the run stood.

A tool that cannot do the action (an unsupported task, or an error inside the pipeline) is not a
crash: the action is recorded as failed at the node it started from, becomes tabu there, and the
agent decides again.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command
from PIL import Image, ImageChops

from agent.context import RunContext, context_of
from agent.contracts import Action
from agent.nodes.common import emit, node_prompt
from agent.policy import outcome as policy_outcome
from agent.tree import ROOT, Tree, TreeNode, new_node_id
from tools.engine.guides import compose_sketch
from tools.engine.masks import changed_outside, region_mask
from tools.errors import Cancelled, InputError, ToolError, UnsupportedTaskError


def _union_mask(regions, size, pad, keep=()) -> Image.Image:
    """The regions' union (each grown by ``pad``), less the boxes of objects to keep: a repaint that
    spares its neighbours cannot paint over them."""
    mask = Image.new("L", size, 0)
    for r in regions:
        mask = ImageChops.lighter(mask, region_mask(r, size, pad))
    for k in keep:
        mask = ImageChops.subtract(mask, region_mask(k, size))
    return mask


def run_action(ctx: RunContext, action: Action, source: Image.Image | None):
    """One engine call for an action whose every parameter is decided. Returns the engine's record."""
    gen, eng, inpaint = ctx.spec.generation, ctx.engine, ctx.spec.inpaint
    common = {"negative_prompt": action.negative_prompt, "steps": gen.steps, "guidance": gen.guidance}
    if ctx.step_hook is not None:  # only when someone listens: any engine without the hook still works
        common["on_step"] = ctx.step_hook
    if action.kind == "txt2img":
        return eng.txt2img(action.prompt, seed=action.seeds[0], width=gen.width, height=gen.height, **common)
    if action.kind == "img2img":
        return eng.img2img(source, action.prompt, strength=action.strength, seed=action.seeds[0], **common)
    if action.kind == "inpaint":
        where = {"region": action.regions[0], "pad": inpaint.pad} if len(action.regions) == 1 and not action.keep \
            else {"mask": _union_mask(action.regions, source.size, inpaint.pad, action.keep)}
        return eng.inpaint(source, action.prompt, strength=action.strength, seed=action.seeds[0],
                           feather=inpaint.feather, guide=action.guide, **where, **common)
    return eng.variations(source, action.prompt, n=len(action.seeds), strength=action.strength,
                          seeds=action.seeds, **common)


def _source(ctx: RunContext, action: Action, parent: TreeNode) -> Image.Image | None:
    """What the action starts from: nothing (txt2img), a composed sketch, or the parent's image."""
    if action.kind == "txt2img":
        return None
    if action.layout is not None:
        size = getattr(ctx.engine, "native_size", (64, 64))
        return compose_sketch(action.layout, size, getattr(ctx.engine, "palette", None))
    return ctx.store.load_image(parent.image)


def _steps(ctx: RunContext, action: Action, source: Image.Image | None) -> list[tuple[Action, object]]:
    """Every engine call of the action, each with its record: one, or one per step of a chain (a
    move: each step on the last one's image, from the next seed)."""
    done: list[tuple[Action, object]] = []
    step, seeds = action, list(action.seeds)
    while step is not None:
        own = step.model_copy(update={"then": None})
        call, seeds = own.model_copy(update={"seeds": seeds[:own.generations]}), seeds[own.generations:]
        done.append((call, run_action(ctx, call, done[-1][1].images[0] if done else source)))
        step = step.then
    return done


def generate(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    tree = Tree(state["nodes"])
    origin = state.get("current") or ROOT
    action = Action.model_validate(state["pending"])
    action = action.model_copy(update={"prompt": action.prompt or node_prompt(state, tree[origin])})
    parent_id = ROOT if action.kind == "txt2img" or action.layout is not None else origin
    parent = tree[parent_id]
    source = _source(ctx, action, parent)
    step = state.get("step", 0)
    try:
        steps = _steps(ctx, action, source)
    except Cancelled:
        emit(ctx, state, "generate", key="cancelled", action=action.kind, tried=action.to_state(), cancelled=True,
             parent=parent_id, origin=origin, reason=action.reason)
        return Command(goto="ask_human" if state.get("mode") == "chat" else "decide", update={
            "pending": None, "step": step + 1, "counters": {"cancelled": 1}, "edit_request": None,
            "cancelled": True})
    except (UnsupportedTaskError, ToolError, InputError) as exc:
        # InputError too: arguments the engine refuses (an edit it cannot make at this size, say) came
        # from a decision, so they are a failed action to avoid, not a reason to stop the run.
        where = policy_outcome.tool_error_site(action, origin)
        emit(ctx, state, "generate", key="failed", action=action.kind, tried=action.to_state(), error=str(exc))
        return Command(goto="decide", update={
            "pending": None, "step": step + 1, "counters": {"tool_errors": 1},
            "nodes": {where: policy_outcome.after_tool_error(tree[where], action, str(exc))}})
    children: dict[str, dict] = {}
    new_ids: list[str] = []
    seq = tree.next_seq()
    scene = node_prompt(state, tree[origin]) if action.kind == "inpaint" else action.prompt
    made = []
    for j, (done, record) in enumerate(steps):
        last = j == len(steps) - 1
        params = {k: v for k, v in record.params.items() if k not in ("prompt", "negative_prompt")}
        for i, image in enumerate(record.images):
            node_id = new_node_id(seq)
            meta = {"run_id": state.get("run_id"), "node": node_id, **record.metadata(i)}
            rel, digest = ctx.store.save_image(image, meta)
            # A move is judged as a whole: its last image carries the whole action, and what changed
            # is measured from where the move started.
            child = TreeNode(
                id=node_id, seq=seq, parent=made[-1] if made else parent_id, origin=origin,
                depth=parent.depth + 1 + len(made), step=step, action=action if last else done, prompt=done.prompt,
                scene_prompt=scene, negative_prompt=done.negative_prompt, seed=record.seeds[i], params=params,
                image=rel, image_hash=digest, engine_seconds=round(record.wall_time / len(record.images), 4),
                **(policy_outcome.measure_change(source, image) if source is not None else {}))
            if done.kind == "inpaint":
                # With paste-back this is 0 by construction; measured anyway, because drift is defined
                # by what the pixels did, not by what the engine promised.
                soft = record.extras["soft_mask"] if len(steps) == 1 else _all_masks(steps)
                child.outside_change = round(changed_outside(source, image, soft), 5)
            children[node_id] = child.to_state()
            seq += 1
            if last:
                new_ids.append(node_id)
            else:
                made.append(node_id)
    emit(ctx, state, "generate", action=action.kind, params={**params, "prompt": action.prompt},
         seeds=[s for _, r in steps for s in r.seeds], nodes=made + new_ids,
         images=[children[n]["image"] for n in made + new_ids], parent=parent_id, origin=origin,
         engine_seconds=round(sum(r.wall_time for _, r in steps), 4), reason=action.reason)
    return Command(goto="critique", update={
        # Every image of a chain is judged: a move's first step may already be where everything holds.
        "nodes": children, "new_nodes": made + new_ids, "pending": None, "step": step + 1,
        "spend": {"generations": sum(len(r.images) for _, r in steps),
                  "engine_seconds": round(sum(r.wall_time for _, r in steps), 4)},
    })


def _all_masks(steps) -> Image.Image:
    """Where any step of a move was allowed to change pixels."""
    out = steps[0][1].extras["soft_mask"]
    for _, record in steps[1:]:
        out = ImageChops.lighter(out, record.extras["soft_mask"])
    return out
