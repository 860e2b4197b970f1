"""batch.json: what each brief of a batch came to, so a rerun skips what is finished."""
from __future__ import annotations

import json
from pathlib import Path

from agent.status import FINISHED, Status
from tools.files import atomic_write

MANIFEST = "batch.json"
DONE = FINISHED | {Status.INVALID, Status.FAILED}


class Manifest:
    def __init__(self, out: Path):
        self.path = out / MANIFEST
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {"items": {}}

    @property
    def items(self) -> dict[str, dict]:
        return self.data["items"]

    def done(self, key: str) -> bool:
        return self.items.get(key, {}).get("status") in DONE

    def record(self, key: str, entry: dict) -> None:
        self.items[key] = entry
        self.save()

    def save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=1))
