"""batch.json: what each brief of a batch came to, so a rerun skips what is finished — and the
batch folder's own lock, so two commands never drive one folder at once."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agent.locks import Busy, Lock
from agent.batch.night import NightBudget
from agent.status import FINISHED, Status
from tools.files import atomic_write

MANIFEST = "batch.json"
DRIVER_LOCK = "batch.lock"
DONE = FINISHED | {Status.INVALID, Status.FAILED}


class Manifest:
    def __init__(self, out: Path):
        self.path = out / MANIFEST
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {"items": {}}

    @property
    def items(self) -> dict[str, dict]:
        return self.data["items"]

    @property
    def night(self) -> dict:
        return self.data.setdefault("night", {})

    def done(self, key: str) -> bool:
        return self.items.get(key, {}).get("status") in DONE

    def record(self, key: str, entry: dict) -> None:
        self.items[key] = entry
        self.save()

    def start_night(self, briefs: Path, budget: NightBudget) -> None:
        """A new command on this folder: its own budgets; a stop of an earlier command is forgotten."""
        self.data["briefs_file"] = str(briefs)
        self.data["night"] = {"limits": budget.limits(), "started": round(time.time(), 3)}
        self.save()

    def stop_night(self, reason: str) -> None:
        """No new brief starts from here on; the report says why."""
        self.night["stopped"] = reason
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=1))


@contextmanager
def batch_lock(out: Path) -> Iterator[Lock]:
    """Held by the command driving ``out`` (serial or on Ray) for as long as it runs."""
    lock = Lock(out / DRIVER_LOCK, what="sculpt batch")
    try:
        lock.acquire()
    except Busy as exc:
        raise Busy(f"{out} is being driven by another sculpt batch ({exc}); wait for it to end, or stop it "
                   "(its lock frees as soon as it dies, or after a minute if it ran on another machine)",
                   exc.holder) from None
    try:
        yield lock
    finally:
        lock.release()
