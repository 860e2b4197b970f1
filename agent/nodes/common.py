"""Helpers shared by nodes: events with stable ids, loading critiques, node prompts."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from langgraph.runtime import Runtime

from agent.context import RunContext
from agent.state import RunState


def emit(runtime: Runtime[RunContext], state: RunState, node: str, key: str | None = None, **fields: Any) -> None:
    """Write one event. Its id is (step, node, key): a node re-run after a resume writes nothing
    twice, and a node that reports several things in one step (one critique per variation, an
    error then what it did instead) gives each its own key."""
    ctx = runtime.context
    event_id = f"{state.get('step', 0)}:{node}" + (f":{key}" if key else "")
    event = {"event_id": event_id, "step": state.get("step", 0), "node": node, **fields}
    if ctx.store.append_event(event) and ctx.on_event:
        try:
            ctx.on_event(event)
        except Exception:  # display must never break a run
            pass


def checklist_digest(checklist: list[dict]) -> str:
    return hashlib.sha256(json.dumps(checklist, sort_keys=True).encode()).hexdigest()


def node_prompt(state: RunState, node_id: str | None) -> str:
    """The prompt in force at a node, describing the whole scene: its own (a rewrite applies to its
    subtree), else the run's. An inpainted node's own prompt names only its region; it inherits the
    scene prompt of the node it was painted on."""
    node = state.get("nodes", {}).get(node_id or "", {})
    return node.get("scene_prompt") or node.get("prompt") or state["prompt"]


def load_critique(runtime: Runtime[RunContext], node: dict[str, Any]):
    """The full critique of a node, from the run folder (state keeps only a compact form)."""
    from agent.contracts import Critique

    crit = node.get("critique")
    if not crit or not crit.get("file"):
        return None
    return Critique.model_validate_json((runtime.context.store.root / crit["file"]).read_text())
