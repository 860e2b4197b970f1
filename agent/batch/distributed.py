"""A batch spread over Ray workers. The driver holds only the queue and the tallies: workers write
the run folders, the driver writes batch.json and the morning report after every finished brief.

Nothing is lost when something dies:
- the driver: rerun the same command; finished briefs are skipped, the others resume from their
  checkpoints, and each run folder's lock keeps a dying worker and its successor apart;
- a worker: Ray restarts it; its brief goes back to the front of the queue and resumes from its
  checkpoint on whichever worker is free first. A brief that was running when a worker died twice
  is marked failed (it may be what kills them) and the night goes on;
- the critic: no new brief starts, running ones finish (pausing where the critic is needed), and
  the command ends with the critic's exit code; rerunning it continues.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import ray
from ray.exceptions import RayActorError, RayTaskError

from agent.batch.briefs import BatchItem, read_briefs
from agent.batch.errors import WorkersLost
from agent.batch.item import RUNS
from agent.batch.manifest import Manifest, batch_lock
from agent.batch.night import CRITIC_DOWN, NightBudget, Spent, spent_by
from agent.batch.pool import Slot, WorkerPool
from agent.batch.report import write_morning_report
from agent.policy import belief
from agent.spec import RunSpec, spec_with
from agent.status import Status
from agent.run_files import read_tree
from tools.errors import InputError, SculptError, Unreachable

TICK = 0.5  # seconds between looks at the workers (progress, budgets)
CRASHES = 2  # a brief running when this many workers died is failed, not retried
RETRY_BUSY = 5.0  # seconds before a brief someone else holds is tried again


@dataclass
class NightProgress:
    """Where the night stands, for a live display."""

    workers: list[Slot]
    done: int
    running: int
    queued: int
    accepted: int
    total: int
    spent: Spent
    limits: dict
    per_minute: float
    stopped: str | None
    finished: list[tuple[BatchItem, dict]]  # since the last snapshot


def run_batch_on_ray(briefs: Path, out: Path, template: RunSpec, pool: WorkerPool, *,
                     night: NightBudget | None = None, on_progress: Callable[[NightProgress], None] | None = None) -> dict:
    """Run every brief of the file on the pool's workers; returns the manifest (out/batch.json)."""
    items = read_briefs(briefs, template.seed)
    # Workers elsewhere do not share this process's working directory: give them absolute paths.
    out = out.resolve()
    if Path(template.model).exists():
        template = spec_with(template, model=str(Path(template.model).resolve()))
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    with batch_lock(out):
        manifest = Manifest(out)
        manifest.start_night(briefs, night or NightBudget())
        return _Night(items, out, template, pool, manifest, night or NightBudget(), on_progress).run()


def _dead_nodes() -> list[str]:
    """The hosts of Ray nodes the cluster lists as dead ([] when it cannot be asked any more)."""
    try:
        return sorted({n.get("NodeManagerHostname") or n.get("NodeManagerAddress") or "?"
                       for n in ray.nodes() if not n.get("Alive")})
    except Exception:  # the cluster's control service is gone too: the worker errors say the rest
        return []


def _cause(exc: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrapper."""
    return getattr(exc, "cause", None) or exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class _Night:
    def __init__(self, items, out: Path, template: RunSpec, pool: WorkerPool, manifest: Manifest,
                 night: NightBudget, on_progress):
        self.items, self.out, self.pool, self.manifest, self.night = items, out, pool, manifest, night
        self.template = template.to_json()
        self.on_progress = on_progress
        self.queue = deque(i for i in items if not manifest.done(i.key))
        self.not_before: dict[str, float] = {}  # briefs someone else holds: when to try again
        # What the driver waits on: workers (re)starting, and the briefs they run. A pool may serve
        # several batches one after another, so only its workers still starting are waited on here.
        self.pending = {s.probe: s for s in pool.slots if s.state in ("starting", "restarting")}
        self.finished: list[tuple[BatchItem, dict]] = []
        self.changed = False  # a brief finished or failed since the report was last written
        self.t0 = time.time()
        self.images0 = self.spent().images

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> dict:
        try:
            while True:
                self.dispatch()
                if not self.running() and (self.stopped or not self.queue):
                    break
                if all(s.state == "dead" for s in self.pool.slots):
                    raise self.workers_lost()
                if self.pending:
                    ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=TICK)
                    for ref in ready:
                        self.collect(ref)
                else:
                    time.sleep(TICK)  # only briefs someone else holds are left: wait for them
                if self.changed:  # the free worker gets its next brief first, then the report is written
                    self.dispatch()
                    self.report()
                self.progress()
        finally:
            self.report()
        self.progress()
        return self.manifest.data

    @property
    def stopped(self) -> str | None:
        return self.manifest.night.get("stopped")

    def running(self) -> list[Slot]:
        return [s for s in self.pool.slots if s.state == "busy"]

    def dispatch(self) -> None:
        for slot in self.pool.slots:
            if slot.state != "idle" or self.stopped:
                continue
            item = self.next_item()
            if item is None:
                return
            if reason := self.night.reached(self.spent()):
                self.queue.appendleft(item)
                self.manifest.stop_night(reason)
                return
            prev = self.manifest.items.get(item.key, {})
            slot.state, slot.item, slot.since = "busy", item, time.time()
            slot.ref = slot.actor.run.remote(item, self.template, str(self.out))
            self.pending[slot.ref] = slot
            self.manifest.record(item.key, {"brief": item.brief, "seed": item.seed, "status": Status.RUNNING.value,
                                            "worker": slot.name, "started": round(slot.since, 3),
                                            "attempts": prev.get("attempts", [])})

    def next_item(self) -> BatchItem | None:
        now = time.time()
        for _ in range(len(self.queue)):
            item = self.queue.popleft()
            if self.not_before.get(item.key, 0.0) <= now:
                return item
            self.queue.append(item)
        return None

    def workers_lost(self) -> WorkersLost:
        """Why the night cannot go on, and what a person does about it."""
        done = sum(self.manifest.done(i.key) for i in self.items)
        dead = _dead_nodes()
        why = (f"Ray's node on {', '.join(dead)} died (its raylet or the machine), taking every worker with it"
               if dead else "every Ray worker is gone (" + "; ".join(s.error for s in self.pool.slots) + ")")
        return WorkersLost(f"{why}; {done} of {len(self.items)} briefs are done and kept. Run the same command "
                           "again: finished briefs are skipped and interrupted ones resume from their checkpoints"
                           " (with --ray, once the cluster is up again: `ray status` shows it)")

    # -- results ---------------------------------------------------------------------------------
    def collect(self, ref) -> None:
        slot = self.pending.pop(ref)
        if slot.state in ("starting", "restarting"):
            return self.started(slot, ref)
        item = slot.item
        try:
            entry = ray.get(ref)
        except RayActorError as exc:  # the worker's process died (killed, out of memory, a crash)
            return self.crashed(slot, item, exc)
        except RayTaskError as exc:  # a bug met by this brief: recorded, the night goes on
            entry = {"brief": item.brief, "seed": item.seed, "status": Status.FAILED.value,
                     "error": _first_line(_cause(exc)), "worker": slot.name, "started": round(slot.since, 3),
                     "finished": round(time.time(), 3)}
        slot.state, slot.item, slot.ref = "idle", None, None
        if "busy" in entry:  # another process holds this brief's lock: try it again later
            self.not_before[item.key] = time.time() + RETRY_BUSY
            self.queue.append(item)
            attempts = self.manifest.items.get(item.key, {}).get("attempts", [])
            self.manifest.record(item.key, {"brief": item.brief, "seed": item.seed, "status": Status.QUEUED.value,
                                            "reason": entry["busy"], "attempts": attempts})
            return
        slot.done += 1
        entry["attempts"] = self.manifest.items.get(item.key, {}).get("attempts", [])
        self.manifest.record(item.key, entry)
        self.finished.append((item, entry))
        if entry["status"] == Status.CRITIC_UNAVAILABLE and not self.stopped:
            self.manifest.stop_night(CRITIC_DOWN)
        self.changed = True

    def started(self, slot: Slot, ref) -> None:
        try:
            info = ray.get(ref)
        except RayTaskError as exc:
            cause = _cause(exc)
            if slot.state == "restarting":
                # It loaded the engine at the start of the night, so what fails now is this worker's
                # machine (its GPU, its memory): the other workers carry on without it.
                slot.state, slot.error = "dead", f"{slot.name}: {_first_line(cause)}"
                return
            raise cause if isinstance(cause, SculptError) else Unreachable(_first_line(cause)) from None
        except RayActorError as exc:  # restarts exhausted, or its machine is gone for good
            slot.state, slot.error = "dead", f"{slot.name}: {_first_line(exc)}"
            return
        slot.state, slot.host = "idle", info["host"]

    def crashed(self, slot: Slot, item: BatchItem, exc: BaseException) -> None:
        prev = self.manifest.items.get(item.key, {})
        now = time.time()
        attempts = prev.get("attempts", []) + [{"worker": slot.name, "started": round(slot.since, 3),
                                                "finished": round(now, 3), "error": _first_line(exc)}]
        base = {"brief": item.brief, "seed": item.seed, "attempts": attempts}
        if len(attempts) >= CRASHES:
            # What it made before it died counts for the night, and its best image so far is shown.
            self.manifest.record(item.key, {**base, **self.so_far(item.key), "status": Status.FAILED.value,
                                            "error": f"{len(attempts)} workers died while running it; the last: "
                                                     f"{_first_line(exc)}"})
            self.finished.append((item, self.manifest.items[item.key]))
        else:  # back to the front: it resumes from its checkpoint on the next free worker
            self.manifest.record(item.key, {**base, "status": Status.QUEUED.value,
                                            "reason": "its worker died; it resumes from its checkpoint"})
            self.queue.appendleft(item)
        self.pool.probe(slot, "restarting")
        self.pending[slot.probe] = slot
        self.changed = True

    # -- tallies ---------------------------------------------------------------------------------
    def spent(self) -> Spent:
        """Finished briefs' spend from the manifest, running ones' from their tree.json so far."""
        total = Spent(seconds=time.time() - self.t0)
        running = {s.item.key for s in self.pool.slots if s.state == "busy" and s.item}
        for key, entry in self.manifest.items.items():
            total = total + spent_by(self.so_far(key) if key in running else entry)
        return total

    def so_far(self, key: str) -> dict:
        """A brief's spend and best image as its run folder says (tree.json is rewritten after every
        step), for a brief still running or one whose worker died."""
        try:
            tree = read_tree(self.out / RUNS / key)
        except InputError:  # being rewritten this instant, or damaged: nothing to show yet
            return {}
        if tree is None:
            return {}
        spend, best = tree.spend, tree.best
        node = tree.nodes.get(best) if best else None
        return {"generations": spend.get("generations", 0), "usd": round(spend.get("usd", 0.0), 6),
                "best_score": belief.score(node) if node and node.critique else None,
                "best_image": f"{RUNS}/{key}/{node.image}" if node and node.image else None}

    def progress(self) -> None:
        if self.on_progress is None:
            return
        spent = self.spent()
        done = sum(self.manifest.done(i.key) for i in self.items)
        running = len(self.running())
        minutes = max(time.time() - self.t0, 1e-6) / 60
        accepted = sum(e.get("status") == Status.ACCEPTED for e in self.manifest.items.values())
        snap = NightProgress(workers=list(self.pool.slots), done=done, running=running,
                        queued=len(self.items) - done - running, accepted=accepted, total=len(self.items),
                        spent=spent, limits=self.night.limits(), per_minute=(spent.images - self.images0) / minutes,
                        stopped=self.stopped, finished=self.finished)
        self.finished = []
        self.on_progress(snap)

    def report(self) -> None:
        write_morning_report(self.out, self.manifest.items, self.items, night=self.manifest.night)
        self.changed = False
