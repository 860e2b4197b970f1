"""What nodes get through LangGraph's runtime context: dependencies, never state.

The engine, the critic, the rewriter, the run folder, the spec and the clock live here, so the
checkpointed state holds only JSON-able data and a resumed run is rebuilt from run.json by the
run lifecycle (agent/lifecycle/). LangGraph's own server (``langgraph dev``, LangGraph Studio)
builds the context from this schema with no arguments; nodes that find it empty get the run's
context from agent/lifecycle/platform.py, made through the same lifecycle.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from langgraph.runtime import Runtime

from agent.critics.base import Critic
from agent.rewriters.base import Rewriter
from agent.spec import RunSpec
from agent.store import RunStore


@dataclass
class RunContext:
    # Every field has a default so that LangGraph's server can build an empty one from the schema.
    engine: object = None  # tools.engine.Engine, or anything with the same four tools
    critic: Critic | None = None
    rewriter: Rewriter | None = None
    store: RunStore | None = None
    spec: RunSpec | None = None
    clock: Callable[[], float] = time.monotonic
    # Called with each event as it is written, for progress display; must not raise.
    on_event: Callable[[dict], None] | None = None
    # Someone watching images as they denoise, who may stop one (tools.engine.preview.StepHook; the
    # studio): None for every run nobody watches, whose engine calls stay exactly as they were.
    step_hook: object = None

    @property
    def policy(self):
        return self.spec.policy

    @property
    def budget(self):
        return self.spec.budget

    @property
    def complete(self) -> bool:
        """Made by sculpt's lifecycle (rather than an empty one a server built from the schema)."""
        return self.store is not None


def context_of(runtime: Runtime[RunContext], state: dict) -> RunContext:
    """The run's context; for a graph driven by LangGraph's server, the one its lifecycle made."""
    if runtime.context is not None and runtime.context.complete:
        return runtime.context
    from agent.lifecycle.platform import platform_context  # the lifecycle imports the graph

    return platform_context(state.get("run_id") or "studio", state)
