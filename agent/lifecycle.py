"""The run lifecycle: one object that starts a run from a spec, opens an existing run folder and
advances it — optionally with a person's answer — streaming its events.

Every surface drives runs through :class:`Run`: ``sculpt run``, ``resume``, ``chat``, ``batch``,
the benchmark's agent method, the studio and the Ray workers. Advancing a run always means the
same thing: continue a step a killed process left half done; answer the question a chat run waits
on; re-enter a finished run when there is a reason to (a raised budget, a critic that is back, a
person continuing from a node) — through the graph's own entry, never by patching its state.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from agent.components import build_components
from agent.context import RunContext
from agent.critics.base import Critic
from agent.graph import compile_graph
from agent.locks import Lock, run_folder_lock
from agent.results import RunResult, result_of, write_tree
from agent.spec import RunSpec, read_spec, spec_with
from agent.start_image import import_start_image
from agent.status import CRITIC_TROUBLE, STOPPED_SHORT, status_of
from agent.store import RunStore, new_run_id
from tools.errors import InputError, InternalError, SculptError

THREAD = {"configurable": {"thread_id": "run"}}
ERROR_LOG = "error.log"


def run_id_for(spec: RunSpec) -> str:
    return new_run_id(spec.brief, spec.seed, spec.model, spec.critic)


def recursion_limit(spec: RunSpec) -> int:
    """Each image takes at most ~6 graph steps; a chat answer a few more."""
    return int(12 * (spec.budget.generations or 50) + 50)


class Run:
    """One run folder, open: its spec, its components and its checkpoint."""

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
        self._new = False  # made by start() in this process and not planned yet
        self._lock = None  # the folder's lock, when opened exclusively
        self._reopen_finished = False  # a raised budget or another critic: carry on after a stop

    # -- making and opening --------------------------------------------------------------------------
    @classmethod
    def start(cls, spec: RunSpec, out_dir: str | Path, *, engine=None, critic: Critic | None = None,
              run_id: str | None = None, checkpointer: str = "sqlite",
              on_event: Callable[[dict], None] | None = None, exclusive: str | None = None) -> "Run":
        """A new run folder for ``spec`` (nothing runs until :meth:`advance`). A bad spec, critic or
        model fails here, before any folder exists. ``exclusive`` (who runs it, e.g. "sculpt run")
        holds the folder's lock while the run is open, as :meth:`open` does."""
        spec = read_spec(spec.to_json(), "run spec")
        engine, critic, rewriter = build_components(spec, engine=engine, critic=critic)
        if getattr(engine, "is_inpainting_checkpoint", False):
            raise InputError(f"{spec.model} is an inpainting checkpoint: sculpt needs a text-to-image checkpoint "
                             "of the same family (it derives inpainting from it)")
        run_id = run_id or run_id_for(spec)
        identity = getattr(getattr(engine, "identity", None), "to_dict", lambda: {"source": spec.model})()
        store = RunStore.create(Path(out_dir), run_id, {"spec": spec.to_json(), "critic_name": critic.name,
                                                        "model_identity": identity})
        try:
            start = import_start_image(store, spec.start_image, engine) if spec.start_image else None
        except SculptError:
            shutil.rmtree(store.root, ignore_errors=True)
            raise
        run = cls(store, RunContext(engine=engine, critic=critic, rewriter=rewriter, store=store, spec=spec,
                                    on_event=on_event), checkpointer)
        if exclusive:
            run._lock = Lock(run_folder_lock(store.root), what=exclusive)
            run._lock.acquire()  # a folder made a moment ago: nobody else can hold it yet
        run._new = True
        run._input = {"brief": spec.brief, "run_id": run_id, "mode": spec.mode, "seed": spec.seed,
                      "start_image": start}
        return run

    @classmethod
    def open(cls, run_dir: str | Path, *, engine=None, critic: Critic | None = None, budget: int | None = None,
             critic_spec: str | None = None, critic_options: dict[str, Any] | None = None,
             localiser: str | None = None, on_event: Callable[[dict], None] | None = None,
             exclusive: str | None = None) -> "Run":
        """An existing run folder, its components rebuilt from run.json. ``budget`` (images),
        ``critic_spec``, ``critic_options`` and ``localiser`` change the run's spec from here on
        (run.json too).
        ``exclusive`` (who asks, e.g. "sculpt resume") holds the folder's lock while the run is
        open, so a person cannot resume a run a batch worker is running (agent/locks.py)."""
        lock = None
        if exclusive:
            lock = Lock(run_folder_lock(Path(run_dir)), what=exclusive)
            lock.acquire()
        try:
            run = cls._open(run_dir, engine=engine, critic=critic, budget=budget, critic_spec=critic_spec,
                            critic_options=critic_options, localiser=localiser, on_event=on_event)
        except BaseException:
            if lock:
                lock.release()
            raise
        run._lock = lock
        return run

    @classmethod
    def _open(cls, run_dir, *, engine, critic, budget, critic_spec, critic_options, localiser, on_event) -> "Run":
        store = RunStore.open(run_dir)
        if not store.has_checkpoint():
            raise InputError(f"{store.root} has no checkpoint.sqlite, so there is nothing to resume from")
        info = store.info()
        if "spec" not in info:
            raise InputError(f"{store.root / 'run.json'} has no spec; it was made by an older sculpt, whose runs "
                             "cannot be resumed (its images and report are still there)")
        spec = read_spec(info["spec"], f"{store.root / 'run.json'}")
        changes: dict[str, Any] = {}
        if budget is not None:
            changes["budget"] = {**spec.budget.model_dump(), "generations": budget}
        if critic_spec:
            changes["critic"] = critic_spec
        if critic_options:
            changes["critic_options"] = {**spec.critic_options, **critic_options}
        if localiser:
            changes["localiser"] = localiser
        if changes:
            spec = spec_with(spec, **changes)
        # Built before run.json changes: a critic or model that cannot be built leaves the run as it was.
        engine, critic, rewriter = build_components(spec, engine=engine, critic=critic)
        if changes:
            store.update_info(spec=spec.to_json(), **({"critic_name": critic.name} if critic_spec else {}))
        run = cls(store, RunContext(engine=engine, critic=critic, rewriter=rewriter, store=store, spec=spec,
                                    on_event=on_event))
        run._reopen_finished = budget is not None
        return run

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- advancing ---------------------------------------------------------------------------------
    @property
    def spec(self) -> RunSpec:
        return self.ctx.spec

    def advance(self, answer: Any = None, *, reopen: dict | None = None) -> RunResult:
        """Drive the run to its next rest point (a question, or the end) and return where it stands."""
        for _ in self.stream(answer, reopen=reopen):
            pass
        return self.result()

    def stream(self, answer: Any = None, *, reopen: dict | None = None) -> Iterator[dict]:
        """Like :meth:`advance`, yielding each event (events.jsonl lines) as it is written."""
        graph_input = self._next_input(answer, reopen)
        if graph_input is _AT_REST:
            return
        cfg = {**THREAD, "recursion_limit": recursion_limit(self.spec)}
        try:
            for mode, chunk in self.graph.stream(graph_input, cfg, context=self.ctx,
                                                 stream_mode=["values", "custom"], durability="sync"):
                if mode == "custom":
                    yield chunk
                elif isinstance(chunk, dict) and "nodes" in chunk:
                    write_tree(self.store, chunk, self.spec)
        except GraphRecursionError as exc:
            raise self._internal(exc, "the run took more graph steps than its limit") from None
        except SculptError:
            self._forget_if_unplanned()
            raise
        except Exception as exc:  # a bug in sculpt: one line for people, the traceback in the run folder
            raise self._internal(exc, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._new = False

    def _next_input(self, answer: Any, reopen: dict | None):
        snap = self.graph.get_state(THREAD)
        if not snap.values:
            if not self._new:
                raise InputError(f"{self.store.root} has no completed step to resume from; start it again "
                                 "with sculpt run")
            return self._input
        if snap.interrupts:
            return _AT_REST if answer is None else Command(resume=answer)
        if snap.next or snap.tasks:
            return None  # killed mid-run: the checkpoint has work left; continue it
        if reopen is None and isinstance(answer, dict) and answer.get("action") in ("branch", "continue"):
            reopen = {"reason": "the person continues", "node": answer.get("node")}
        status = status_of(snap.values.get("status"))
        if reopen is None and status in CRITIC_TROUBLE:
            reopen = {"reason": "the critic is asked again"}
        if reopen is None and status in STOPPED_SHORT and self._reopen_finished:
            reopen = {"reason": f"budget raised to {self.spec.budget.generations} images"}
        if reopen is None:
            return _AT_REST
        node = reopen.get("node")
        if node:
            # Checked here, before anything is written: a bad node saved as the graph's input would
            # fail on every later resume too.
            known = (snap.values.get("nodes") or {}).get(node)
            if known is None:
                raise InputError(f"cannot continue from {node!r}: this run has no such node")
            if not known.get("critique"):
                raise InputError(f"cannot continue from {node!r}: it has no critique yet; pick an image the "
                                 "critic has judged")
        return {"reopen": reopen}

    def _forget_if_unplanned(self) -> None:
        """A brief the critic could not plan leaves no run folder behind: nothing was made."""
        if self._new and not self.graph.get_state(THREAD).values.get("checklist"):
            self.close()
            shutil.rmtree(self.store.root, ignore_errors=True)

    def _internal(self, exc: BaseException, what: str) -> InternalError:
        log = self.store.root / ERROR_LOG
        with log.open("a") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            f.write("".join(traceback.format_exception(exc)))
        return InternalError(f"{what} — a bug in sculpt; the traceback is in {log}; the run folder is kept "
                             f"and `sculpt resume {self.store.root}` continues from the last completed step")

    # -- reading -----------------------------------------------------------------------------------
    def result(self) -> RunResult:
        snap = self.graph.get_state(THREAD)
        question = snap.interrupts[0].value if snap.interrupts else None
        return result_of(self.store, snap.values or {}, self.spec, question)


_AT_REST = object()


def run_brief(spec: RunSpec, out_dir: str | Path, **kwargs) -> RunResult:
    """Start a run and advance it to its first rest point (the end, or a chat run's first question)."""
    with Run.start(spec, out_dir, **kwargs) as run:
        return run.advance()
