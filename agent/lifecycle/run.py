""":class:`Run`: a run folder, open. Advancing a run always means the same thing: continue a step a
killed process left half done; answer the question a chat run waits on; re-enter a finished run
when there is a reason to (a raised budget, a critic that is back, a person continuing from a
node) — through the graph's own entry, never by patching its state.
"""
from __future__ import annotations

import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from agent.components import build_components
from agent.context import RunContext
from agent.critics.base import Critic
from agent.errorlog import log_bug
from agent.graph import compile_graph
from agent.lifecycle.opening import (CONTINUING, THREAD, check_still_held, refuse_at_question, refuse_unanswerable,
                                     reopened_spec, run_spec_of, saved_values)
from agent.locks import Lock, run_folder_lock
from agent.policy import stopping
from agent.results import RunResult, result_of, write_tree
from agent.spec import RunSpec, read_spec
from agent.start_image import import_start_image
from agent.status import CRITIC_TROUBLE, STOPPED_SHORT, status_of
from agent.lifecycle.run_ids import free_run_id, run_id_for
from agent.store import RUN_FILE, RunStore
from tools.errors import InputError, InternalError, SculptError

def recursion_limit(spec: RunSpec) -> int:
    """Each image takes at most ~6 graph steps; a chat answer a few more."""
    return int(12 * (spec.budget.generations or 50) + 50)


class Run:
    """One run folder, open: its spec, its components and its checkpoint. ``holder`` names who
    advances it, in the folder's lock (held while it advances, or for as long as it is open when
    opened ``exclusive``)."""

    def __init__(self, store: RunStore, ctx: RunContext, checkpointer: str | None = "sqlite",
                 holder: str = "sculpt"):
        self.store, self.ctx, self.holder = store, ctx, holder
        self.conn = None
        if checkpointer == "sqlite":
            self.conn = sqlite3.connect(store.checkpoint_path, check_same_thread=False)
            saver = SqliteSaver(self.conn)
        elif checkpointer == "memory":  # tests and throwaway runs: nothing survives the process
            from langgraph.checkpoint.memory import InMemorySaver

            saver = InMemorySaver()
        elif checkpointer is not None:  # None: another driver (LangGraph's server) runs the graph
            raise InputError(f"checkpointer must be sqlite or memory, not {checkpointer!r}")
        self.graph = compile_graph(saver) if checkpointer else None
        self._new = False  # made by start() in this process and not planned yet
        self._lock: Lock | None = None  # the folder's lock, while held
        self._for_life = False  # held from opening to closing, not only while advancing
        self._reopen_finished = False  # a raised budget or another critic: carry on after a stop

    # -- making and opening --------------------------------------------------------------------------
    @classmethod
    def start(cls, spec: RunSpec, out_dir: str | Path, *, engine=None, critic: Critic | None = None,
              run_id: str | None = None, checkpointer: str | None = "sqlite",
              on_event: Callable[[dict], None] | None = None, exclusive: str | None = None,
              holder: str = "sculpt") -> "Run":
        """A new run folder for ``spec`` (nothing runs until :meth:`advance`). A bad spec, critic or
        model fails here, before any folder exists. ``exclusive`` (who runs it, e.g. "sculpt run")
        holds the folder's lock while the run is open, as :meth:`open` does."""
        run_id = run_id or free_run_id(spec, out_dir)

        def make() -> "Run":
            return cls._start(spec, out_dir, engine=engine, critic=critic, run_id=run_id, checkpointer=checkpointer,
                              on_event=on_event, holder=exclusive or holder)

        # With ``exclusive``, the folder's lock first (beside a folder not made yet).
        return cls.held_by(exclusive, Path(out_dir) / run_id, make) if exclusive else make()

    @classmethod
    def _start(cls, spec, out_dir, *, engine, critic, run_id, checkpointer, on_event, holder) -> "Run":
        spec = read_spec(spec.to_json(), "run spec")
        engine, critic, rewriter = build_components(spec, engine=engine, critic=critic)
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
                                    on_event=on_event), checkpointer, holder)
        run._new = True
        run._input = {"brief": spec.brief, "run_id": run_id, "mode": spec.mode, "seed": spec.seed,
                      "start_image": start}
        return run

    @classmethod
    def open(cls, run_dir: str | Path, *, engine=None, critic: Critic | None = None, budget: int | None = None,
             critic_spec: str | None = None, critic_options: dict[str, Any] | None = None,
             localiser: str | None = None, on_event: Callable[[dict], None] | None = None,
             exclusive: str | None = None, holder: str = "sculpt") -> "Run":
        """An existing run folder, its components rebuilt from run.json. ``budget`` (images, never
        below those made), ``critic_spec``, ``critic_options`` and ``localiser`` change the run's
        spec from here on (run.json too). ``exclusive`` (who asks, e.g. "sculpt resume") holds the folder's lock while
        the run is open, so a person cannot resume a run a batch worker is running (agent/locks.py)."""
        def make() -> "Run":
            return cls._open(run_dir, engine=engine, critic=critic, budget=budget, critic_spec=critic_spec,
                             critic_options=critic_options, localiser=localiser, on_event=on_event,
                             holder=exclusive or holder)

        return cls.held_by(exclusive, Path(run_dir), make) if exclusive else make()

    @classmethod
    def _open(cls, run_dir, *, engine, critic, budget=None, critic_spec=None, critic_options=None, localiser=None,
              on_event=None, holder="sculpt", checkpointer: str | None = "sqlite") -> "Run":
        store = RunStore.open(run_dir)
        if checkpointer == "sqlite" and not store.has_checkpoint():
            raise InputError(f"{store.root} has no checkpoint.sqlite, so there is nothing to resume from")
        spec, changed = reopened_spec(run_spec_of(store), store, budget=budget, critic_spec=critic_spec,
                                      critic_options=critic_options, localiser=localiser)
        # Built before run.json changes: a critic or model that cannot be built leaves the run as it was.
        engine, critic, rewriter = build_components(spec, engine=engine, critic=critic)
        if changed:
            store.update_info(spec=spec.to_json(), **({"critic_name": critic.name} if critic_spec else {}))
        run = cls(store, RunContext(engine=engine, critic=critic, rewriter=rewriter, store=store, spec=spec,
                                    on_event=on_event), checkpointer, holder)
        run._reopen_finished = budget is not None
        return run

    @classmethod
    def resume_or_start(cls, spec: RunSpec, out_dir: str | Path, *, run_id: str, holder: str, engine=None,
                        critic: Critic | None = None) -> "Run":
        """The run ``run_id`` under ``out_dir``, held by ``holder`` while open: resumed when its
        checkpoint has a completed step, started afresh when it has none (a process killed before its
        first step made nothing), started when there is no folder. Raises agent.locks.Busy when
        another process holds it."""
        run_dir = Path(out_dir) / run_id

        def make() -> "Run":
            if (run_dir / RUN_FILE).exists() and saved_values(RunStore(run_dir)) is not None:
                return cls._open(run_dir, engine=engine, critic=critic, holder=holder)
            shutil.rmtree(run_dir, ignore_errors=True)  # we hold its lock: nobody else writes there
            return cls._start(spec, out_dir, engine=engine, critic=critic, run_id=run_id, checkpointer="sqlite",
                              on_event=None, holder=holder)

        return cls.held_by(holder, run_dir, make)

    @classmethod
    def held_by(cls, holder: str, run_dir: Path, make: Callable[[], "Run"]) -> "Run":
        """``make()``'s run, holding ``run_dir``'s lock (taken first) for as long as it is open; the
        lock is let go again if making it fails. Raises agent.locks.Busy when someone else holds it."""
        lock = Lock(run_folder_lock(run_dir), what=holder)
        lock.acquire()
        try:
            run = make()
        except BaseException:
            lock.release()
            raise
        run._lock, run._for_life = lock, True
        return run

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock, self._for_life = None, False

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
        """Like :meth:`advance`, yielding each event (events.jsonl lines) as it is written. The
        folder's lock is held throughout, and checked at every step: a process whose lock another
        took over stops (:class:`LockLost`) instead of writing beside it."""
        graph_input = self._next_input(answer, reopen)
        if graph_input is _AT_REST:
            return
        cfg = {**THREAD, "recursion_limit": recursion_limit(self.spec)}
        with self._advancing():
            try:
                for mode, chunk in self.graph.stream(graph_input, cfg, context=self.ctx,
                                                     stream_mode=["values", "custom"], durability="sync"):
                    if mode == "custom":
                        yield chunk
                    elif isinstance(chunk, dict) and "nodes" in chunk:
                        write_tree(self.store, chunk, self.spec)
                    if mode == "values":  # a step boundary: its checkpoint is written
                        check_still_held(self._lock, self.store.root)
            except GraphRecursionError as exc:
                raise self._internal(exc, "the run took more graph steps than its limit") from None
            except SculptError:
                self._forget_if_unplanned()
                raise
            except Exception as exc:  # a bug in sculpt: one line for people, the traceback in the run folder
                raise self._internal(exc, f"{type(exc).__name__}: {exc}") from exc
            finally:
                self._new = False

    @contextmanager
    def _advancing(self):
        """The folder's lock for one advance, unless the run holds it for as long as it is open."""
        if self._for_life:
            yield
            return
        self._lock = Lock(run_folder_lock(self.store.root), what=self.holder)
        self._lock.acquire()
        try:
            yield
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def check_answer(self, answer: Any) -> None:
        """Refuse an answer this run cannot take now (opening.refuse_unanswerable), or that its
        question would refuse (policy/answers.py, asked here with the run's own state): a surface
        says so next to the control, and nothing reaches the run."""
        snap = self.graph.get_state(THREAD)
        refuse_unanswerable(snap, answer)
        if snap.interrupts:
            refuse_at_question(snap.values, answer, self.ctx)

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
        if answer is not None:
            self.check_answer(answer)
        if reopen is None and isinstance(answer, dict) and answer.get("action") in CONTINUING:
            reopen = {"reason": "the person continues", "node": answer.get("node")}
        status = status_of(snap.values.get("status"))
        if reopen is None and status in CRITIC_TROUBLE:
            reopen = {"reason": "the critic is asked again"}
        if reopen is None and status in STOPPED_SHORT and self._reopen_finished:
            reopen = {"reason": f"budget raised to {self.spec.budget.generations} images"}
        if reopen is None:
            return _AT_REST
        if reopen.get("node"):
            # Checked here, before anything is written, by the rule re-entry itself applies: a bad
            # node saved as the graph's input would fail on every later resume too.
            stopping.reentry(snap.values, reopen["node"])
        return {"reopen": reopen}

    def _forget_if_unplanned(self) -> None:
        """A brief the critic could not plan leaves no run folder behind: nothing was made."""
        if self._new and not self.graph.get_state(THREAD).values.get("checklist"):
            self.close()
            shutil.rmtree(self.store.root, ignore_errors=True)

    def _internal(self, exc: BaseException, what: str) -> InternalError:
        log = log_bug(exc, self.store.root)
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
