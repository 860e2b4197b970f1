"""Start, resume and drive runs: build the context, open the checkpoint, stream the graph.

The runner is the only place that knows about files and processes around the graph: it makes the
run folder, writes tree.json after every step, and rebuilds everything a resumed run needs from
run.json (so a killed process is continued by a new one).
"""
from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agent.context import GenerationSettings, RunContext
from agent.critics.base import Critic
from agent.critics.registry import make_critic
from agent.graph import compile_graph
from agent.policy import PolicyConfig
from agent.rewriters.registry import make_rewriter
from agent.settings import SHAPES_MODEL
from agent.state import RunState, node_score
from agent.store import RunStore
from tools.errors import InputError, ModelLoadError

STOPPED_BY_CRITIC = ("critic_failed", "critic_unavailable")


def shapes_model_path() -> Path:
    return Path(__file__).resolve().parent.parent / "tools" / "shapes" / "weights"


def resolve_model(model: str) -> str:
    if model != SHAPES_MODEL:
        return model
    path = shapes_model_path()
    if not (path / "model_index.json").is_file():
        raise ModelLoadError(f"the built-in shapes model is missing from {path}; train it with "
                             "`python -m tools.shapes.train` (see tools/shapes/MODEL_CARD.md) or pass --model")
    return str(path)


@dataclass
class RunSpec:
    """Everything that defines a run; stored in run.json so a resume rebuilds the same run."""

    brief: str
    model: str = SHAPES_MODEL
    critic: str = "scene"
    critic_options: dict[str, Any] = field(default_factory=dict)  # never secrets: the key stays in the env
    rewriter: str = "auto"
    budget: dict[str, float | None] = field(default_factory=lambda: {"generations": 8})
    seed: int = 0
    mode: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    scheduler: str | None = None
    cpu_offload: bool = False
    model_configs: str | None = None  # a diffusers folder whose configs a single-file checkpoint uses
    generation: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not isinstance(self.brief, str) or not self.brief.strip():
            raise InputError("the brief is empty; describe the picture you want, e.g. "
                             '"a red circle to the left of a blue square, yellow background"')
        for key, value in self.budget.items():
            if value is not None and value <= 0:
                raise InputError(f"budget {key} must be greater than 0, got {value:g}")
        if self.mode not in ("auto", "chat"):
            raise InputError(f"mode must be auto or chat, not {self.mode!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a whole number >= 0, got {self.seed!r}")


@dataclass
class RunResult:
    run_dir: Path
    run_id: str
    status: str
    stop_reason: str | None
    best: str | None
    best_image: Path | None
    best_score: float | None
    verdicts: list[dict]
    state: dict
    interrupt: Any = None  # chat mode: what the graph is asking the person

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


def rewriter_spec(spec: str, critic: str) -> str:
    if spec != "auto":
        return spec
    if critic.startswith("openai:"):
        return critic  # the same model rewrites
    return "rules"


def load_engine(spec: RunSpec):
    from tools.engine import Engine

    return Engine.load(resolve_model(spec.model), device=spec.device, dtype=spec.dtype, scheduler=spec.scheduler,
                       cpu_offload=spec.cpu_offload, config=spec.model_configs)


def _rewriter_options(spec: RunSpec) -> dict[str, Any]:
    return spec.critic_options if rewriter_spec(spec.rewriter, spec.critic).startswith("openai:") else {}


def build_context(spec: RunSpec, store: RunStore, engine, critic: Critic, rewriter=None,
                  on_event: Callable[[dict], None] | None = None) -> RunContext:
    rewriter = rewriter or make_rewriter(rewriter_spec(spec.rewriter, spec.critic), **_rewriter_options(spec))
    return RunContext(engine=engine, critic=critic, rewriter=rewriter, store=store,
                      policy=PolicyConfig(**spec.policy), budget=dict(spec.budget),
                      generation=GenerationSettings(**spec.generation), on_event=on_event)


def _run_id(spec: RunSpec) -> str:
    digest = hashlib.sha256(f"{spec.brief}|{spec.seed}|{spec.model}|{spec.critic}".encode()).hexdigest()[:6]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{digest}"


def recursion_limit(budget: dict) -> int:
    """Each generator call takes at most ~6 graph steps; chat adds the person's turns."""
    return int(12 * (budget.get("generations") or 50) + 50)


class Runner:
    """Drives one run folder: start or resume, stream steps, keep tree.json current."""

    def __init__(self, store: RunStore, ctx: RunContext, checkpointer: str = "sqlite"):
        self.store, self.ctx = store, ctx
        self.conn = None
        if checkpointer == "sqlite":
            self.conn = sqlite3.connect(store.checkpoint_path, check_same_thread=False)
            saver = SqliteSaver(self.conn)
        elif checkpointer == "memory":  # tests and throwaway runs: nothing survives the process
            from langgraph.checkpoint.memory import InMemorySaver

            saver = InMemorySaver()
        else:
            raise InputError(f"checkpointer must be sqlite or memory, not {checkpointer!r}")
        self.graph = compile_graph(saver)
        self.config = {"configurable": {"thread_id": "run"}}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stream(self, graph_input, limit: int) -> RunResult:
        cfg = {**self.config, "recursion_limit": limit}
        for values in self.graph.stream(graph_input, cfg, context=self.ctx, stream_mode="values",
                                        durability="sync"):
            if isinstance(values, dict) and "nodes" in values:
                write_tree(self.store, values, self.ctx.budget)
        return self.result()

    def state(self):
        return self.graph.get_state(self.config)

    def answer(self, answer: Any) -> RunResult:
        """Resume a chat run that is waiting for the person."""
        return self.stream(Command(resume=answer), recursion_limit(self.ctx.budget))

    def resume(self, budget: int | None = None, answer: Any = None) -> RunResult:
        snap = self.state()
        values = snap.values or {}
        if not values:
            raise InputError(f"{self.store.root} has no completed step to resume from; start it again with sculpt run")
        if budget is not None:
            if budget <= 0:
                raise InputError(f"budget must be greater than 0, got {budget}")
            # The budget is configuration (run.json and the context), so raising it needs no
            # change to the checkpoint and works wherever the run stopped.
            self.ctx.budget["generations"] = budget
            info = self.store.info()
            self.store.write_json(self.store.root / "run.json",
                                  {**info, "budget": {**info.get("budget", {}), "generations": budget}})
        limit = recursion_limit(self.ctx.budget)
        if snap.interrupts:
            return self.result() if answer is None else self.stream(Command(resume=answer), limit)
        # Killed mid-run: the last checkpoint has work left, either nodes to run (next) or a finished
        # node whose writes, routing included, were saved but not yet applied (tasks).
        if snap.next or snap.tasks:
            return self.stream(None, limit)
        status = values.get("status")
        if status in STOPPED_BY_CRITIC and values.get("new_nodes"):
            return self.stream(Command(goto="critique", update={
                "status": "running", "critic_failures": 0, "stop_reason": None}), limit)
        if status in ("budget", "plateau", "stopped") and budget is not None:
            return self.stream(Command(goto="decide", update={
                "status": "running", "stop_reason": None, "since_best": 0}), limit)
        return self.result()

    def result(self) -> RunResult:
        snap = self.state()
        values: dict = snap.values or {}
        write_tree(self.store, values, self.ctx.budget)
        nodes = values.get("nodes", {})
        best = values.get("best")
        verdicts = []
        if best and nodes[best].get("critique"):
            crit = nodes[best]["critique"]
            texts = {r["id"]: r["text"] for r in values.get("checklist", [])}
            verdicts = [{"id": i, "text": texts.get(i, i), "passed": i in crit["passed"]}
                        for i in texts]
        interrupt = snap.interrupts[0].value if snap.interrupts else None
        return RunResult(
            run_dir=self.store.root, run_id=values.get("run_id", self.store.root.name),
            status="waiting" if interrupt is not None else values.get("status", "unknown"),
            stop_reason=values.get("stop_reason"), best=best,
            best_image=self.store.root / nodes[best]["image"] if best else None,
            best_score=node_score(nodes[best]) if best else None, verdicts=verdicts, state=values,
            interrupt=interrupt)


def write_tree(store: RunStore, state: dict, budget: dict) -> None:
    keys = ("run_id", "brief", "prompt", "checklist", "current", "best", "status", "stop_reason", "spend",
            "counters", "nodes", "seed")
    store.write_json(store.tree_path, {**{k: state.get(k) for k in keys}, "budget": budget})


def prepare_run(spec: RunSpec, out_dir: Path, *, engine=None, critic: Critic | None = None,
                on_event: Callable[[dict], None] | None = None, run_id: str | None = None,
                checkpointer: str = "sqlite") -> tuple[Runner, RunState]:
    """Validate and plan at the edge (a bad brief or model fails before any folder exists), make the
    run folder, and return an open runner with the initial state."""
    spec.validate()
    critic = critic or make_critic(spec.critic, **spec.critic_options)
    plan = critic.plan(spec.brief)
    if not plan.checklist:
        raise InputError(f"the critic found nothing checkable in the brief {spec.brief!r}; say what should be seen")
    rewriter = make_rewriter(rewriter_spec(spec.rewriter, spec.critic), **_rewriter_options(spec))
    engine = engine or load_engine(spec)
    if getattr(engine, "is_inpainting_checkpoint", False):
        raise InputError(f"{spec.model} is an inpainting checkpoint: sculpt needs a text-to-image checkpoint of "
                         "the same family (it derives inpainting from it)")
    run_id = run_id or _run_id(spec)
    identity = getattr(getattr(engine, "identity", None), "to_dict", lambda: {"source": spec.model})()
    store = RunStore.create(out_dir, run_id, {**asdict(spec), "critic_name": critic.name,
                                              "model_identity": identity})
    ctx = build_context(spec, store, engine, critic, rewriter, on_event=on_event)
    initial: RunState = {
        "run_id": run_id, "brief": spec.brief, "mode": spec.mode, "seed": spec.seed, "next_seed": spec.seed,
        "checklist": [r.model_dump(mode="json") for r in plan.checklist],
        "prompt": plan.prompt, "negative_prompt": plan.negative_prompt, "hints": [], "step": 0,
        "spend": plan.usage.as_spend(),
        "counters": {}, "status": "running",
    }
    return Runner(store, ctx, checkpointer), initial


def start_run(spec: RunSpec, out_dir: Path, **kwargs) -> RunResult:
    """Run a brief from start to finish (or to the first question, in chat mode)."""
    runner, initial = prepare_run(spec, out_dir, **kwargs)
    with runner:
        return runner.stream(initial, recursion_limit(spec.budget))


def open_run(run_dir: str | Path, *, engine=None, critic: Critic | None = None,
             critic_options: dict[str, Any] | None = None,
             on_event: Callable[[dict], None] | None = None) -> Runner:
    """An open runner on an existing run folder, its engine and critic rebuilt from run.json."""
    store = RunStore.open(run_dir)
    spec = load_spec(store)
    if critic_options:
        spec.critic_options = {**spec.critic_options, **critic_options}
    ctx = build_context(spec, store, engine or load_engine(spec),
                        critic or make_critic(spec.critic, **spec.critic_options), on_event=on_event)
    return Runner(store, ctx)


def load_spec(store: RunStore) -> RunSpec:
    info = store.info()
    fields = RunSpec.__dataclass_fields__
    return RunSpec(**{k: v for k, v in info.items() if k in fields})


def resume_run(run_dir: str | Path, *, engine=None, critic: Critic | None = None, budget: int | None = None,
               critic_options: dict[str, Any] | None = None, answer: Any = None,
               on_event: Callable[[dict], None] | None = None) -> RunResult:
    """Continue a run from its last completed step (or re-try a critic that was unreachable).

    ``budget`` raises the generation budget of a run that stopped on it; ``answer`` resumes a chat
    run waiting for the person.
    """
    with open_run(run_dir, engine=engine, critic=critic, critic_options=critic_options,
                  on_event=on_event) as runner:
        return runner.resume(budget=budget, answer=answer)
