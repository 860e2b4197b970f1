"""What nodes get through LangGraph's runtime context: dependencies, never state.

The engine, the critic, the rewriter, the run folder and the clock live here, so the checkpointed
state holds only JSON-able data and a resumed run is rebuilt from run.json.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from agent.critics.base import Critic
from agent.policy import PolicyConfig
from agent.rewriters.base import Rewriter
from agent.store import RunStore


@dataclass
class GenerationSettings:
    steps: int | None = None  # None: the checkpoint's recommended or the engine's default
    guidance: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class RunContext:
    engine: object  # tools.engine.Engine, or anything with the same four tools
    critic: Critic
    rewriter: Rewriter
    store: RunStore
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    # The run's limits (generations, seconds, usd, tokens). Configuration, not state: a resumed
    # run may be given more, and the checkpoint need not change for it.
    budget: dict[str, float | None] = field(default_factory=lambda: {"generations": 8})
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    clock: Callable[[], float] = time.monotonic
    # Called with each event as it is written, for progress display; must not raise.
    on_event: Callable[[dict], None] | None = None
