"""One brief of a batch, through the run lifecycle (``Run.resume_or_start``): its run folder started
or resumed while this worker holds the folder's lock, so no two processes ever run one brief at once."""
from __future__ import annotations

import time
from pathlib import Path

from agent.batch.briefs import BatchItem
from agent.locks import Busy
from agent.critics.base import CriticReplyError
from agent.lifecycle import Run
from agent.results import RunResult
from agent.spec import RunSpec, spec_with
from agent.status import Status
from tools.errors import InputError, SculptError, Unreachable

RUNS = "runs"
IN_PROCESS = "in process"


def summarise(res: RunResult, out: Path) -> dict:
    """A manifest entry: paths relative to the batch folder, so it can be moved or served."""
    spend = res.state.get("spend", {})
    return {"status": res.status.value, "stop_reason": res.stop_reason, "best": res.best,
            "best_image": res.best_image.relative_to(out).as_posix() if res.best_image else None,
            "best_score": res.best_score, "generations": spend.get("generations", 0),
            "usd": round(spend.get("usd", 0.0), 6), "seconds": round(spend.get("seconds", 0.0), 3),
            "report": (res.run_dir / "report.html").relative_to(out).as_posix()}


def run_item(item: BatchItem, template: RunSpec, out: Path, *, engine=None, worker: str = IN_PROCESS) -> dict:
    """Run (or resume) one brief; returns its manifest entry. Raises :class:`agent.locks.Busy` when
    another process runs this brief right now."""
    base = {"brief": item.brief, "seed": item.seed}
    t0 = time.time()
    spec = spec_with(template, brief=item.brief, seed=item.seed)
    try:
        # The run folder's lock comes first; the lifecycle decides between resuming and starting.
        with Run.resume_or_start(spec, out / RUNS, run_id=item.key, holder=f"batch worker {worker!r}",
                                 engine=engine) as run:
            res = run.advance()
        entry = {**base, **summarise(res, out)}
    except Busy:  # someone else runs this brief right now: the caller tries it again later
        raise
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
