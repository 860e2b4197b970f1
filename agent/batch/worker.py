"""A batch worker: loads the engine once, then runs briefs one after another through the run
lifecycle, writing their run folders itself (under ``--out``, a shared filesystem on a cluster), so
images never travel through the driver.

On Ray each worker is an actor (agent/batch/pool.py wraps this class; nothing here imports Ray):
one per GPU on GPU machines, like Ray's own Stable Diffusion examples hold one pipeline per GPU
actor; on CPUs, each with its share of the cores as torch threads, so N workers do not fight
over them.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from agent.batch.briefs import BatchItem
from agent.batch.item import run_item
from agent.locks import Busy
from agent.components import load_engine
from agent.spec import read_spec
from tools.errors import SculptError


class BriefWorker:
    def __init__(self, template: dict, name: str, threads: int | None = None):
        if threads:
            import torch

            torch.set_num_threads(threads)
        from tools.engine.quiet import quiet_libraries

        quiet_libraries()  # a worker's log is not a terminal: no loading bars
        self.name, self.host, self.pid = name, socket.gethostname(), os.getpid()
        # A model that cannot load is reported by ready() as the error it is (the driver raises it
        # as it would in process), not as a failed constructor, which Ray reports as a dead actor.
        self.error: SculptError | None = None
        try:
            load_engine(read_spec(template, "batch run spec"))
        except SculptError as exc:
            self.error = exc

    def ready(self) -> dict:
        """Who this worker is, once its engine is loaded (the driver waits on this after a restart)."""
        if self.error is not None:
            raise self.error
        return {"name": self.name, "host": self.host, "pid": self.pid}

    def run(self, item: BatchItem, template: dict, out: str) -> dict:
        """Run or resume one brief under ``template`` (the batch's run spec); its manifest entry, or
        ``{"busy": ...}`` when another process holds the brief's lock (the driver tries it again later)."""
        spec = read_spec(template, "batch run spec")
        engine = load_engine(spec)  # the one loaded at start (engines are cached per process and model)
        try:
            entry = run_item(item, spec, Path(out), engine=engine, worker=self.name)
        except Busy as exc:
            return {"busy": str(exc)}
        return {**entry, "host": self.host, "pid": self.pid}
