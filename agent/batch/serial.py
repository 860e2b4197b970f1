"""A batch in this process, one brief after another, with one engine loaded for the whole night."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from agent.batch.briefs import BatchItem, read_briefs
from agent.batch.item import RUNS, run_item
from agent.batch.manifest import Manifest
from agent.batch.report import write_morning_report
from agent.components import load_engine
from agent.spec import RunSpec
from agent.status import Status


def run_batch(briefs: Path, out: Path, template: RunSpec, *, engine=None,
              on_item: Callable[[BatchItem, dict], None] | None = None) -> dict:
    """Run every brief of the file; returns the manifest (also in out/batch.json). A critic that cannot
    be reached ends the batch early (rerun the same command later); anything else goes on."""
    items = read_briefs(briefs, template.seed)
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out)
    manifest.data["briefs_file"] = str(briefs)
    engine = engine or load_engine(template)  # once for the whole night
    try:
        for item in items:
            if manifest.done(item.key):
                continue
            entry = run_item(item, template, out, engine=engine)
            manifest.record(item.key, entry)
            if on_item:
                on_item(item, entry)
            if entry["status"] == Status.CRITIC_UNAVAILABLE:
                break  # the critic is down: stop the night here, rerun the command later
    finally:
        write_morning_report(out, manifest.items, items)
    return manifest.data
