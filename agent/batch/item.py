"""One brief of a batch, through the run lifecycle: start its run folder, or resume it."""
from __future__ import annotations

import time
from pathlib import Path

from agent.batch.briefs import BatchItem
from agent.critics.base import CriticReplyError
from agent.lifecycle import Run
from agent.results import RunResult
from agent.spec import RunSpec, spec_with
from agent.status import Status
from agent.store import RUN_FILE
from tools.errors import InputError

RUNS = "runs"


def summarise(res: RunResult, out: Path) -> dict:
    """A manifest entry: paths relative to the batch folder, so it can be moved or served."""
    spend = res.state.get("spend", {})
    return {"status": res.status.value, "stop_reason": res.stop_reason, "best": res.best,
            "best_image": res.best_image.relative_to(out).as_posix() if res.best_image else None,
            "best_score": res.best_score, "generations": spend.get("generations", 0),
            "usd": round(spend.get("usd", 0.0), 6), "seconds": round(spend.get("seconds", 0.0), 3),
            "report": (res.run_dir / "report.html").relative_to(out).as_posix()}


def run_item(item: BatchItem, template: RunSpec, out: Path, *, engine=None) -> dict:
    """Run (or resume) one brief; returns its manifest entry. An unreachable critic is raised: the
    batch stops there and a rerun continues."""
    run_dir = out / RUNS / item.key
    base = {"brief": item.brief, "seed": item.seed}
    t0 = time.time()
    try:
        if (run_dir / RUN_FILE).exists() and (run_dir / "checkpoint.sqlite").exists():
            run = Run.open(run_dir, engine=engine)
        else:
            spec = spec_with(template, brief=item.brief, seed=item.seed)
            run = Run.start(spec, out / RUNS, engine=engine, run_id=item.key)
        with run:
            res = run.advance()
        entry = {**base, **summarise(res, out)}
    except CriticReplyError as exc:  # e.g. a refusal to plan this brief: the others may be fine
        entry = {**base, "status": Status.CRITIC_FAILED.value, "error": str(exc)}
    except InputError as exc:
        entry = {**base, "status": Status.INVALID.value, "error": str(exc)}
    return {**entry, "started": round(t0, 3), "finished": round(time.time(), 3)}
