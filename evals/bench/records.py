"""One (method, brief) result: built from a method's outcome, judged exactly, kept in its own file.

Each file is written atomically the moment its trial ends, so a benchmark killed at any point
keeps every finished result, and a rerun reads them back instead of running them again. A file
holds the record (deterministic: images, seeds, verdicts, choices) and its timings apart, so two
runs of the same benchmark can be compared exactly without the clock getting in the way.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evals.bench.counting import CountingEngine
from evals.bench.errors import BenchError, BudgetExceeded
from evals.bench.false_alarms import claimed, drift_audit
from evals.bench.judge import ExactJudge, store_image
from evals.bench.methods import MethodResult
from evals.bench.metrics import first_success, success_by_k

RECORDS_DIR = "records"


def record_path(out: Path, method: str, brief_id: str) -> Path:
    return out / RECORDS_DIR / method / f"{brief_id}.json"


def build_record(item, method: str, outcome: MethodResult, proxy: CountingEngine, judge: ExactJudge, out: Path,
                 budget: int, settings: str) -> dict[str, Any]:
    """The record of one trial; every image is judged by the exact critic."""
    if len(outcome.shots) != proxy.used:
        # Compute matching counts what went through the proxy; results made any other way (or
        # images made and not reported) would make the comparison meaningless.
        raise BudgetExceeded(f"{method} on {item.id} reported {len(outcome.shots)} image(s) but made "
                             f"{proxy.used} through the counted engine; every image must come from it and "
                             "be reported", budget=budget, used=proxy.used, requested=len(outcome.shots))
    shots = []
    for k, shot in enumerate(outcome.shots, 1):
        if shot.path is None:
            rel, digest = store_image(out, shot.image)
        else:
            rel, digest = shot.path, shot.digest
        entry: dict[str, Any] = {"k": k, "task": shot.task, "seed": shot.seed, "prompt": shot.prompt,
                                 "strength": shot.strength, "image": rel, "hash": digest[:20], "score": shot.score,
                                 "claimed": shot.claimed,
                                 "exact": judge.judge(item.text, digest, image=shot.image, path=out / rel)}
        if shot.node:
            entry.update(node=shot.node, parent=shot.parent)
        shots.append(entry)
    ok = [s["exact"]["ok"] for s in shots]
    success = success_by_k(outcome.choice, outcome.final, ok, budget, outcome.extends)
    record = {
        "method": method, "brief_id": item.id, "difficulty": item.difficulty, "brief": item.text,
        "seed": item.seed, "budget": budget, "calls": proxy.used, "engine_calls": len(proxy.calls),
        "shots": shots, "choice": list(outcome.choice), "final": outcome.final,
        "all_correct": outcome.final is not None and ok[outcome.final],
        "claimed": claimed(shots, outcome.final),
        "success_by_k": success, "calls_to_success": first_success(success),
        "checklist": [{"id": r.id, "kind": r.kind} for r in judge.checklist(item.text)],
        "usage": outcome.usage, "info": outcome.info, "settings": settings,
    }
    if outcome.info.get("run"):  # the agent: every drift it detected, checked by the exact judge
        record["drift_audit"] = drift_audit(out / outcome.info["run"], item.text, judge)
    return record


def build_timings(wall: float, proxy: CountingEngine, outcome: MethodResult) -> dict[str, Any]:
    return {"wall_s": round(wall, 4), "engine_s": round(proxy.engine_seconds, 4),
            "critic_s": outcome.measured.get("critic_s", 0.0),
            **{k: v for k, v in outcome.measured.items() if k != "critic_s"}}


def write_result(path: Path, record: dict, timings: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"record": record, "timings": timings}, indent=1))
    os.replace(tmp, path)  # all or nothing: a kill never leaves half a result to be read back


def read_result(path: Path, settings: str) -> tuple[dict, dict]:
    try:
        data = json.loads(path.read_text())
        record, timings = data["record"], data["timings"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BenchError(f"{path} is unreadable ({exc}); delete it and rerun to redo that result") from exc
    if record.get("settings") != settings:
        raise BenchError(f"{path} was made by a benchmark with other settings (seed, budget, critic, model, "
                         "steps, loopback options, agent policy or benchmark version); use another --out, or delete "
                         f"{path.parent.parent} to start afresh")
    return record, timings
