"""Helpers shared by nodes: events with stable ids, loading critiques, node prompts."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from langgraph.config import get_stream_writer

from agent.context import RunContext
from agent.events import EVENT_TYPES, event_line
from agent.contracts import Amendment, Critique, Requirement
from agent.policy import amend
from agent.tree import TreeNode


def emit(ctx: RunContext, state: dict, node: str, key: str | None = None, **fields: Any) -> None:
    """Write ``node``'s event (its type in agent/events.py, which checks every field) to events.jsonl
    and stream it, typed (LangGraph's "custom" stream mode, and the context's ``on_event``).

    Its id is (step, node, key): a node re-run after a resume writes nothing twice, and a node that
    reports several things in one step (one critique per variation, an error then what it did
    instead) gives each its own key."""
    event_id = f"{state.get('step', 0)}:{node}" + (f":{key}" if key else "")
    event = EVENT_TYPES[node](event_id=event_id, step=state.get("step", 0), **fields)
    written = ctx.store.append_event(event_line(event))
    if written is None:
        return
    event = event.model_copy(update={"time": written})
    try:
        get_stream_writer()(event)
    except RuntimeError:  # called outside a graph run (tests of a node on its own)
        pass
    if ctx.on_event:
        try:
            ctx.on_event(event)
        except Exception:  # display must never break a run
            pass


def checklist_of(state: dict) -> list[Requirement]:
    return [Requirement.model_validate(r) for r in state["checklist"]]


def checklist_digest(checklist: list[dict]) -> str:
    return hashlib.sha256(json.dumps(checklist, sort_keys=True).encode()).hexdigest()


def node_prompt(state: dict, node: TreeNode | None) -> str:
    """The prompt in force at a node, describing the whole scene: its own (a rewrite applies to its
    subtree), else the run's. An inpainted node's own prompt names only its region; it inherits the
    scene prompt of the node it was painted on."""
    if node is None:
        return state["prompt"]
    return node.scene_prompt or node.prompt or state["prompt"]


def load_critique(ctx: RunContext, node: TreeNode) -> Critique | None:
    """The full critique of a node, from the run folder (state keeps only a compact form)."""
    if node.critique is None or not node.critique.file:
        return None
    return Critique.model_validate_json((ctx.store.root / node.critique.file).read_text())


def sampler_steps(ctx: RunContext) -> int | None:
    """The denoising steps every image is made with: the spec's, else the engine's default."""
    return ctx.spec.generation.steps or getattr(ctx.engine, "default_steps", None)


def amended(state: dict, amendment: Amendment, node_id: str) -> dict:
    """The state update of a change to the brief that the person's request at ``node_id`` made:
    the checklist and brief in force (policy/amend.py), and the change recorded on the node."""
    update = amend.apply(state, amendment)
    node: dict[str, Any] = {"amendment": amendment.to_state()}
    if amendment.prompt:  # the image shows the amended scene: edits of it start from that description
        node["scene_prompt"] = amendment.prompt
    update["nodes"] = {node_id: node}
    return update


def amendment_words(amendment: Amendment) -> dict:
    """What an event says of an amendment: the texts replaced and added (agent/wording.py renders it)."""
    return {"replaced": [r.model_dump(mode="json", include={"id", "text"}) for r in amendment.replaced],
            "added": [r.model_dump(mode="json", include={"id", "text", "replaces"}) for r in amendment.added]}
