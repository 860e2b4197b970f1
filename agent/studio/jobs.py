"""Runs being advanced in the background, for any number of browser tabs.

One engine serves the whole server, so image-making steps take turns at one gate, first come first
served: a GPU never runs two at once, and tabs with different runs interleave step by step. Each
advance is a :class:`Job` on its own thread that records the run's events as they are written; a
page follows a job (and a reloaded page follows it again) without owning it. The studio is a
surface over the run lifecycle: a job calls ``Run.stream(answer)`` and nothing else, with a step
hook on the run's context while it runs: previews of the image being made (written under
``.studio/previews``), and the Cancel that stops it within one denoising step.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.critics.base import CriticError
from agent.errorlog import log_bug
from agent.lifecycle import Run, free_run_id
from agent.results import RunResult
from agent.spec import RunSpec
from agent.studio.files import RunsFolder
from tools.engine.preview import StepHook
from tools.errors import SculptError

CONTINUE = {"action": "continue"}
HOLDER = "sculpt studio"  # who the run folder's lock names while the studio advances a run


KEEP_PREVIEWS = 3  # preview files kept per run: the page may still be loading the one before the last


def message_of(exc: BaseException) -> str:
    """One line for the page: sculpt's own errors as they are; anything else says it is a bug."""
    if isinstance(exc, CriticError):
        return f"the critic failed: {exc}"
    if isinstance(exc, SculptError):
        return str(exc)
    return f"something went wrong that should not ({exc}) — a bug in sculpt studio; the run folder is kept"


def needs_person(question: dict | None) -> bool:
    """A question only the person can answer: the autopilot stops there (an error, a change to the
    brief their edit would make, an image offered over their pick, an image they cancelled)."""
    q = question or {}
    return bool(q.get("error") or q.get("amend") or q.get("offer") or q.get("cancelled"))


class EngineGate:
    """First come, first served: one image-making step at a time across the server."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: deque[object] = deque()

    @contextmanager
    def turn(self, who: object):
        with self._cond:
            self._line.append(who)
            while self._line[0] is not who:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._line.remove(who)
                self._cond.notify_all()

    def ahead_of(self, who: object) -> int:
        with self._cond:
            return self._line.index(who) if who in self._line else 0


@dataclass
class OpenRun:
    run: Run
    lock: threading.Lock = field(default_factory=threading.Lock)


class Job:
    """One advance of a run (or many, on autopilot) on a background thread."""

    def __init__(self, entry: OpenRun, gate: EngineGate, answer: Any, autopilot: bool, where: Any = None,
                 previews: Path | None = None):
        self.entry, self.gate, self.answer, self.autopilot = entry, gate, answer, autopilot
        self.events: list[dict] = []
        self.done = False
        self.stop_requested = False
        self.cancelled = False
        self.previews = previews  # where previews are written (None: no previews)
        self.preview: tuple[str, int, int] | None = None  # the latest: (file, step, steps)
        self._shown: list[Path] = []
        self.hook = StepHook(on_preview=self._on_preview if previews else None)
        self.changes = 0  # events and previews so far: what a follower waits on
        self.brief: str | None = None  # the brief a new run's first job plans (kept for the page if refused)
        self.shown = False  # a page has shown where it ended
        self.where = where  # the control whose note shows this job's error
        self.error: str | None = None
        self.result: RunResult | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="sculpt-studio-job", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Autopilot stops answering after the current image; the run waits at its next question."""
        self.stop_requested = True

    def cancel(self) -> None:
        """Stop the image being made within one denoising step (nothing half-made is kept), and the
        autopilot with it; the run waits at its question where it stood."""
        self.cancelled = self.stop_requested = True
        self.hook.cancel()

    def _push(self, event: dict) -> None:
        with self._cond:
            self.events.append(event)
            self.preview = None  # a new step: the next preview, or the image itself
            self.changes += 1
            self._cond.notify_all()

    def _on_preview(self, image, step: int, steps: int) -> None:
        """Called on the engine's thread: the preview goes to a file the page can show (by path, so the
        page's image component serves it like any run image)."""
        self.previews.mkdir(parents=True, exist_ok=True)
        path = self.previews / f"{time.monotonic_ns()}.png"
        image.save(path, format="PNG", compress_level=1)
        self._shown.append(path)
        while len(self._shown) > KEEP_PREVIEWS:
            self._shown.pop(0).unlink(missing_ok=True)
        with self._cond:
            self.preview = (str(path), step, steps)
            self.changes += 1
            self._cond.notify_all()

    def _work(self) -> None:
        answer = self.answer
        try:
            # The run holds its folder's lock while it advances (not while a page only looks at it):
            # a batch worker or a `sculpt resume` in a terminal and the studio never advance it at once.
            with self.entry.lock:
                ctx = self.entry.run.ctx
                ctx.step_hook = self.hook
                try:
                    while True:
                        with self.gate.turn(self):
                            for event in self.entry.run.stream(answer):
                                self._push(event)
                            res = self.entry.run.result()
                        self.result = res
                        if not (self.autopilot and res.waiting and not needs_person(res.question)
                                and not self.stop_requested):
                            break
                        answer = CONTINUE
                finally:
                    ctx.step_hook = None
        except Exception as exc:  # shown in the page; the run folder keeps what was finished
            self.error = message_of(exc)
            if not isinstance(exc, SculptError):  # a bug here: the traceback goes where the run's go
                log_bug(exc, self.entry.run.store.root)
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()

    def follow(self, seen: int, timeout: float) -> tuple[int, bool]:
        """Wait up to ``timeout`` for a change after the first ``seen`` (an event or a preview); the
        changes so far, and whether the job is done."""
        with self._cond:
            if self.changes <= seen and not self.done:
                self._cond.wait(timeout)
            return self.changes, self.done

    def wait_done(self, timeout: float) -> bool:
        """Sleep up to ``timeout``, waking early if the job ends; whether it has ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.done and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return self.done

    @property
    def waiting_for_engine(self) -> int:
        return self.gate.ahead_of(self)


class RunPool:
    """The runs this server has open (a few, most recent kept), their jobs, and the one gate."""

    def __init__(self, folder: RunsFolder, keep: int = 8, engine=None, previews: bool = True):
        self.folder, self.keep, self.engine, self.previews = folder, keep, engine, previews
        self.gate = EngineGate()
        self._runs: OrderedDict[str, OpenRun] = OrderedDict()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()

    def start(self, spec: RunSpec) -> str:
        """A new run folder (nothing made yet); returns its id (lifecycle.run.free_run_id)."""
        with self._start_lock:
            run_id = free_run_id(spec, self.folder.root)
            run = Run.start(spec, self.folder.root, engine=self.engine, run_id=run_id, holder=HOLDER)
        with self._lock:
            self._remember(run_id, OpenRun(run))
        return run_id

    def get(self, run_id: str) -> OpenRun:
        with self._lock:
            if run_id in self._runs:
                self._runs.move_to_end(run_id)
                return self._runs[run_id]
        run = Run.open(self.folder.run_dir(run_id), engine=self.engine, holder=HOLDER)
        with self._lock:
            known = self._runs.get(run_id)
            if known is None:
                return self._remember(run_id, OpenRun(run))
        run.close()  # another tab opened it meanwhile: one open run per folder, no connection left open
        return known

    def reopen(self, run_id: str, **changes: Any) -> None:
        """Open a run again with a changed spec (``budget``, ``critic_spec``, ``critic_options``)."""
        self.refuse_if_busy(run_id)
        with self._lock:
            old = self._runs.pop(run_id, None)
        if old:
            with old.lock:
                old.run.close()
        run = Run.open(self.folder.run_dir(run_id), engine=self.engine, holder=HOLDER, **changes)
        with self._lock:
            self._remember(run_id, OpenRun(run))

    def _remember(self, run_id: str, entry: OpenRun) -> OpenRun:
        self._runs[run_id] = entry
        for rid in list(self._runs):
            if len(self._runs) <= self.keep:
                break
            if rid != run_id and not self.busy(rid) and self._runs[rid].lock.acquire(blocking=False):
                old = self._runs.pop(rid)
                old.run.close()
                old.lock.release()
        return entry

    # -- jobs --------------------------------------------------------------------------------------
    def job(self, run_id: str | None) -> Job | None:
        return self._jobs.get(run_id) if run_id else None

    def busy(self, run_id: str | None) -> bool:
        job = self.job(run_id)
        return bool(job and not job.done)

    def refuse_if_busy(self, run_id: str) -> None:
        if self.busy(run_id):
            from tools.errors import InputError

            raise InputError("the agent is working on this run; wait for its question, or stop the autopilot")

    def submit(self, run_id: str, answer: Any, autopilot: bool = False, where: Any = None) -> Job:
        entry = self.get(run_id)
        previews = self.folder.studio / "previews" / run_id if self.previews else None
        with self._lock:
            self.refuse_if_busy(run_id)
            job = self._jobs[run_id] = Job(entry, self.gate, answer, autopilot, where, previews)
        return job.start()

    def check_answer(self, run_id: str, answer: Any) -> None:
        """Refuse, before a job starts, an answer the run cannot take now (agent/lifecycle)."""
        entry = self.get(run_id)
        with entry.lock:
            entry.run.check_answer(answer)

    def question(self, run_id: str) -> tuple[dict | None, int | None]:
        """The question the run waits on and the step it was asked at (None while a job runs)."""
        if self.busy(run_id):
            return None, None
        entry = self.get(run_id)
        with entry.lock:
            res = entry.run.result()
        return res.question, res.state.get("step")

    def close(self) -> None:
        with self._lock:
            for entry in self._runs.values():
                entry.run.close()
            self._runs.clear()
