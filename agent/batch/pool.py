"""The workers of a batch on Ray: a local instance on this machine (``--workers N``) or an existing
cluster (``--ray auto|ADDRESS``), and one :class:`~agent.batch.worker.BriefWorker` actor per GPU, or
per share of the CPUs. The only module of sculpt that imports Ray at the top.

Restarts are Ray's: an actor whose process dies is started again (``max_restarts=-1``), which
reloads its engine. Its task is not retried by Ray (``max_task_retries=0``): the driver decides
what a brief that was running on a dead worker becomes, because it counts how often each brief
took a worker down.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import ray

from agent.batch.briefs import BatchItem
from agent.batch.worker import BriefWorker
from agent.spec import RunSpec
from tools.errors import InputError, Unreachable

OBJECT_STORE = 256 * 2**20  # only briefs and manifest entries travel through it: keep it small


def connect(address: str | None, *, cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` ("auto": the one ``ray start`` made on this machine), or
    start a local instance with ``cpus`` cores. True when this call started Ray (and so should
    shut it down); False when it joined, or Ray was already running in this process."""
    if ray.is_initialized():
        return False
    # Workers' own output stays in Ray's logs (/tmp/ray/session_latest/logs): the driver's terminal
    # shows sculpt's progress, and errors come back as results.
    common = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            # Ray sends its token only when told to for an explicit address; say so, since the
            # error it gives is a timeout.
            auth = "" if os.environ.get("RAY_AUTH_MODE") else (
                "; if the cluster uses token authentication (new clusters do by default), set "
                "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN, or ~/.ray/auth_token) first")
            raise Unreachable(f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head` "
                              f"or give its address (host:6379){auth}") from exc
        return False
    ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, object_store_memory=OBJECT_STORE,
             **common)
    return True


def shutdown() -> None:
    ray.shutdown()


def plan(workers: int | None, cpus_per_worker: int | None, *, local: bool) -> tuple[int, float, float]:
    """(workers, CPUs, GPUs per worker) for this cluster: one worker per GPU where there are GPUs,
    else the CPUs split evenly between ``workers`` (torch threads follow the CPUs given)."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    if gpus:
        n = workers or gpus
        if local and n > gpus:
            raise InputError(f"this machine has {gpus} GPUs: --workers {n} would leave {n - gpus} waiting forever")
        return n, float(cpus_per_worker or 1), 1.0
    n = workers or 1
    if local and n > cpus:
        raise InputError(f"this machine has {cpus} CPU cores: use at most --workers {cpus} "
                         "(more engines than cores only makes each slower)")
    return n, float(cpus_per_worker or max(1, cpus // n)), 0.0


@dataclass
class Slot:
    """One worker as the driver sees it."""

    name: str
    actor: Any
    state: str = "starting"  # starting, idle, busy, restarting, dead
    probe: Any = None  # the ready() call the driver waits on while the worker (re)starts
    item: BatchItem | None = None
    ref: Any = None
    since: float = 0.0
    done: int = 0
    host: str = ""
    error: str = ""


class WorkerPool:
    def __init__(self, template: RunSpec, n: int, *, cpus: float, gpus: float):
        actor = ray.remote(BriefWorker).options(num_cpus=cpus, num_gpus=gpus, max_restarts=-1, max_task_retries=0)
        threads = max(1, int(cpus)) if not gpus else None
        self.slots = [Slot(name=f"w{i + 1}", actor=actor.remote(template.to_json(), f"w{i + 1}", threads))
                      for i in range(n)]
        for slot in self.slots:
            self.probe(slot, "starting")

    def probe(self, slot: Slot, state: str) -> None:
        # Retried by Ray until the actor is back: a call made while it restarts would fail at once.
        slot.state, slot.item, slot.ref = state, None, None
        slot.probe = slot.actor.ready.options(max_task_retries=-1).remote()

    def close(self) -> None:
        for slot in self.slots:
            ray.kill(slot.actor, no_restart=True)


def start_pool(template: RunSpec, *, workers: int | None, address: str | None,
               cpus_per_worker: int | None = None) -> tuple[WorkerPool, bool]:
    """Connect (or start Ray) and create the workers; (pool, whether Ray was started here)."""
    started = connect(address)
    try:
        n, cpus, gpus = plan(workers, cpus_per_worker, local=started)
        return WorkerPool(template, n, cpus=cpus, gpus=gpus), started
    except BaseException:
        if started:
            shutdown()
        raise
