"""A batch in this process, one brief after another, with one engine loaded for the whole night."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from agent.batch.briefs import BatchItem, read_briefs
from agent.batch.item import RUNS, run_item
from agent.locks import Busy
from agent.batch.manifest import Manifest, batch_lock
from agent.batch.night import CRITIC_DOWN, NightBudget, Spent, spent_by
from agent.batch.report import write_morning_report
from agent.components import load_engine
from agent.spec import RunSpec
from agent.status import Status


def run_batch(briefs: Path, out: Path, template: RunSpec, *, engine=None, night: NightBudget | None = None,
              on_item: Callable[[BatchItem, dict], None] | None = None) -> dict:
    """Run every brief of the file; returns the manifest (also in out/batch.json). A critic that cannot
    be reached ends the batch early (rerun the same command later); anything else goes on."""
    items = read_briefs(briefs, template.seed)
    night = night or NightBudget()
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    with batch_lock(out):
        manifest = Manifest(out)
        manifest.start_night(briefs, night)
        engine = engine or load_engine(template)  # once for the whole night
        t0 = time.time()
        try:
            for item in items:
                if manifest.done(item.key):
                    continue
                spent = sum((spent_by(e) for e in manifest.items.values()), Spent(seconds=time.time() - t0))
                if reason := night.reached(spent):
                    manifest.stop_night(reason)
                    break
                try:
                    entry = run_item(item, template, out, engine=engine)
                except Busy:
                    continue  # another batch process holds it right now: theirs to finish
                manifest.record(item.key, entry)
                write_morning_report(out, manifest.items, items, night=manifest.night)
                if on_item:
                    on_item(item, entry)
                if entry["status"] == Status.CRITIC_UNAVAILABLE:
                    manifest.stop_night(CRITIC_DOWN)
                    break  # the critic is down: stop the night here, rerun the command later
        finally:
            write_morning_report(out, manifest.items, items, night=manifest.night)
    return manifest.data
