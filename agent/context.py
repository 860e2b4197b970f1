"""What nodes get through LangGraph's runtime context: dependencies, never state.

The engine, the critic, the rewriter, the run folder, the spec and the clock live here, so the
checkpointed state holds only JSON-able data and a resumed run is rebuilt from run.json by the
run lifecycle (agent/lifecycle.py). A graph started without a context (LangGraph Studio,
``langgraph dev``) gets the shapes world's: the built-in model, the exact critic, a run folder
under ``runs/``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from langgraph.runtime import Runtime

from agent.critics.base import Critic
from agent.rewriters.base import Rewriter
from agent.spec import RunSpec
from agent.store import RunStore


@dataclass
class RunContext:
    engine: object  # tools.engine.Engine, or anything with the same four tools
    critic: Critic
    rewriter: Rewriter
    store: RunStore
    spec: RunSpec
    clock: Callable[[], float] = time.monotonic
    # Called with each event as it is written, for progress display; must not raise.
    on_event: Callable[[dict], None] | None = None

    @property
    def policy(self):
        return self.spec.policy

    @property
    def budget(self):
        return self.spec.budget


_DEFAULTS: dict[str, RunContext] = {}
_DEFAULTS_LOCK = threading.Lock()


def context_of(runtime: Runtime[RunContext], state: dict) -> RunContext:
    """The run's context, or the shapes world's for a graph started without one (LangGraph Studio)."""
    if runtime.context is not None:
        return runtime.context
    run_id = state.get("run_id") or "studio"
    with _DEFAULTS_LOCK:
        if run_id not in _DEFAULTS:
            _DEFAULTS[run_id] = _shapes_world_context(run_id, state.get("brief") or "")
        return _DEFAULTS[run_id]


def _shapes_world_context(run_id: str, brief: str) -> RunContext:
    from agent.components import build_components

    spec = RunSpec(brief=brief or "-")
    root = Path("runs") / run_id
    store = RunStore.open(root) if (root / "run.json").is_file() else RunStore.create(Path("runs"), run_id, {
        "spec": spec.to_json()})
    engine, critic, rewriter = build_components(spec)
    return RunContext(engine=engine, critic=critic, rewriter=rewriter, store=store, spec=spec)
