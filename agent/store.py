"""A run's folder: images by content hash, events, tree, critiques, picks, report and checkpoint.

Everything here is written so that a process killed at any moment loses nothing it finished and
duplicates nothing when resumed: files are replaced atomically, images are named by content, and
events carry ids that a resumed step reuses.
"""
from __future__ import annotations

import json
import re
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from agent.events import Event
from agent.run_files import RUN_FILE, RunInfo, read_events, read_info
from tools.engine.images import image_hash, open_image
from tools.errors import InputError
from tools.files import atomic_save, atomic_write

IMAGE_CACHE = 8


def _untimed(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k != "wall_time"}


def new_run_id(*parts: object) -> str:
    """A run folder name: when it was made, and a short digest of what defines it."""
    import hashlib
    import time

    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:6]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{digest}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.images = self.root / "images"
        self.critiques = self.root / "critiques"
        self.events_path = self.root / "events.jsonl"
        self.tree_path = self.root / "tree.json"
        self.report_path = self.root / "report.html"
        self.picks_path = self.root / "picks.jsonl"
        self.checkpoint_path = self.root / "checkpoint.sqlite"
        self._event_ids: set[str] | None = None
        # critique, select and drift checks read the same few images in a row; files never change
        # once written (they are named by content), so a small cache is always right.
        self._images: OrderedDict[str, Image.Image] = OrderedDict()

    # -- creating and opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, out_dir: Path, run_id: str, info: dict[str, Any]) -> "RunStore":
        root = Path(out_dir) / run_id
        if (root / RUN_FILE).exists():
            raise InputError(f"run folder {root} already exists; resume it with `sculpt resume {root}` "
                             "or choose another --out / --seed")
        store = cls(root)
        store.images.mkdir(parents=True, exist_ok=True)
        store.critiques.mkdir(exist_ok=True)
        typed = RunInfo(run_id=run_id, created=now_iso(), **info)  # the type every reader reads back
        atomic_write(root / RUN_FILE, json.dumps(typed.model_dump(mode="json"), indent=2))
        return store

    @classmethod
    def open(cls, path: str | Path) -> "RunStore":
        root = Path(path)
        if not root.is_dir():
            raise InputError(f"run folder {root} does not exist; pass the folder `sculpt run` printed "
                             "(runs/<run-id>)")
        read_info(root)  # a folder whose run.json cannot be read is refused here, with the reason
        store = cls(root)
        store.repair_events()
        return store

    def info(self) -> RunInfo:
        return read_info(self.root)

    def update_info(self, **fields: Any) -> None:
        """Replace some top-level fields of run.json (a resume that raises the budget, say)."""
        typed = RunInfo.model_validate({**self.info().model_dump(mode="json"), **fields})
        self.write_json(self.root / RUN_FILE, typed.model_dump(mode="json"))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    # -- images --------------------------------------------------------------------------------------
    def save_image(self, image: Image.Image, metadata: dict[str, Any]) -> tuple[str, str]:
        """Write an image under its content hash, with its metadata beside it. Returns (relative path, hash)."""
        digest = image_hash(image)
        name = digest[:20]
        png = self.images / f"{name}.png"
        if not png.exists():
            atomic_save(png, lambda tmp: image.save(tmp, format="PNG"))
        sidecar = self.images / f"{name}.json"
        records = json.loads(sidecar.read_text())["records"] if sidecar.exists() else []
        # A step re-run after a resume makes the same image with a different wall time: same record.
        if not any(_untimed(r) == _untimed(metadata) for r in records):
            atomic_write(sidecar, json.dumps({"sha256": digest, "records": records + [metadata]}, indent=1))
        return f"images/{name}.png", digest

    def image_digest(self, rel: str) -> str:
        return image_hash(self.load_image(rel))

    def load_image(self, rel: str) -> Image.Image:
        if rel not in self._images:
            self._images[rel] = open_image(self.root / rel)
            if len(self._images) > IMAGE_CACHE:
                self._images.popitem(last=False)
        self._images.move_to_end(rel)
        return self._images[rel]

    # -- events --------------------------------------------------------------------------------------
    def repair_events(self) -> None:
        """Drop a half-written last line left by a kill mid-write; complete lines are kept."""
        if not self.events_path.exists():
            return
        raw = self.events_path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw[: raw.rfind(b"\n") + 1]
            atomic_write(self.events_path, keep)

    def event_ids(self) -> set[str]:
        if self._event_ids is None:
            self._event_ids = set()
            if self.events_path.exists():
                for line in self.events_path.read_text().splitlines():
                    try:
                        self._event_ids.add(json.loads(line)["event_id"])
                    except (json.JSONDecodeError, KeyError):
                        continue
        return self._event_ids

    def append_event(self, event: dict[str, Any]) -> str | None:
        """Append one event line unless an event with the same id is already there (a resumed step);
        returns the time it was written, or None when it was not."""
        ids = self.event_ids()
        if event["event_id"] in ids:
            return None
        written = now_iso()
        line = json.dumps({**event, "time": written}, default=str)
        with self.events_path.open("a") as f:
            f.write(line + "\n")
            f.flush()
        ids.add(event["event_id"])
        return written

    def events(self, since: int = 0) -> list[Event]:
        """The run's events, typed (after the first ``since``, for a reader that follows a run)."""
        return read_events(self.root, since)

    # -- critiques, tree, picks -------------------------------------------------------------------------
    def critique_path(self, image_digest: str, critic: str, checklist_digest: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", critic)[:60]
        return self.critiques / f"{image_digest[:20]}-{checklist_digest[:10]}-{safe}.json"

    def write_json(self, path: Path, obj: Any) -> None:
        atomic_write(path, json.dumps(obj, indent=1, default=str))

    def append_pick(self, record: dict[str, Any]) -> bool:
        """Append a preference record unless one with the same pick_id is there (a re-run step)."""
        if self.picks_path.exists():
            seen = {json.loads(line).get("pick_id") for line in self.picks_path.read_text().splitlines() if line}
            if record.get("pick_id") in seen:
                return False
        with self.picks_path.open("a") as f:
            f.write(json.dumps({"time": now_iso(), **record}) + "\n")
        return True
