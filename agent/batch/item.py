"""One brief of a batch, through the run lifecycle: start its run folder, or resume it — holding the
folder's lock, so no two processes ever run one brief at once."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from agent.batch.briefs import BatchItem
from agent.locks import Lock, run_folder_lock
from agent.critics.base import CriticReplyError
from agent.lifecycle import Run
from agent.results import RunResult
from agent.spec import RunSpec, spec_with
from agent.status import Status
from agent.store import RUN_FILE
from tools.errors import InputError, SculptError, Unreachable

RUNS = "runs"
TREE_FILE = "tree.json"  # written once the brief is planned
IN_PROCESS = "in process"


def lock_path(out: Path, item: BatchItem) -> Path:
    """The run folder's lock (the same that `sculpt resume` takes), beside the folder."""
    return run_folder_lock(out / RUNS / item.key)


def summarise(res: RunResult, out: Path) -> dict:
    """A manifest entry: paths relative to the batch folder, so it can be moved or served."""
    spend = res.state.get("spend", {})
    return {"status": res.status.value, "stop_reason": res.stop_reason, "best": res.best,
            "best_image": res.best_image.relative_to(out).as_posix() if res.best_image else None,
            "best_score": res.best_score, "generations": spend.get("generations", 0),
            "usd": round(spend.get("usd", 0.0), 6), "seconds": round(spend.get("seconds", 0.0), 3),
            "report": (res.run_dir / "report.html").relative_to(out).as_posix()}


def _open_or_start(item: BatchItem, template: RunSpec, out: Path, engine) -> Run:
    run_dir = out / RUNS / item.key
    if (run_dir / RUN_FILE).exists():
        if (run_dir / TREE_FILE).exists():  # planned at least: resume from its checkpoint
            return Run.open(run_dir, engine=engine)
        # Killed before its brief was even planned: nothing was made, and we hold its lock.
        shutil.rmtree(run_dir)
    return Run.start(spec_with(template, brief=item.brief, seed=item.seed), out / RUNS, engine=engine,
                     run_id=item.key)


def run_item(item: BatchItem, template: RunSpec, out: Path, *, engine=None, worker: str = IN_PROCESS) -> dict:
    """Run (or resume) one brief; returns its manifest entry. Raises :class:`agent.batch.lock.Busy`
    when another process runs this brief right now."""
    base = {"brief": item.brief, "seed": item.seed}
    with Lock(lock_path(out, item), what=f"batch worker {worker!r}"):
        t0 = time.time()
        try:
            with _open_or_start(item, template, out, engine) as run:
                res = run.advance()
            entry = {**base, **summarise(res, out)}
        except CriticReplyError as exc:  # e.g. a refusal to plan this brief: the others may be fine
            entry = {**base, "status": Status.CRITIC_FAILED.value, "error": str(exc)}
        except Unreachable as exc:  # the critic is down while planning: the batch pauses here
            entry = {**base, "status": Status.CRITIC_UNAVAILABLE.value, "error": str(exc)}
        except InputError as exc:
            entry = {**base, "status": Status.INVALID.value, "error": str(exc)}
        except SculptError as exc:  # a model that will not load, a bug the run folder logged: this brief only
            entry = {**base, "status": Status.FAILED.value, "error": str(exc)}
        except Exception as exc:  # outside any run (e.g. while opening its folder): the night goes on
            entry = {**base, "status": Status.FAILED.value, "error": f"{type(exc).__name__}: {exc} — a bug in sculpt"}
    return {**entry, "worker": worker, "started": round(t0, 3), "finished": round(time.time(), 3)}
