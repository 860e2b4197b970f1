"""Benchmark metrics, computed from per-brief records only (so a resumed benchmark, which reads
half of its records from disk, aggregates exactly like an uninterrupted one).

* all-correct rate: the share of briefs whose answer passes every exact requirement, with a 95%
  Wilson score interval (sound at rates near 0 or 1 and at small n, unlike the normal interval).
* success versus budget: the same rate for the method's answer after k images, k = 1..B.
* calls to success: the first k at which the method's answer is all-correct; mean and median over
  the briefs where that happens within the budget.
* per-requirement accuracy: requirements of the answer that pass, overall and by kind.
* false accepts, false drifts and the backtracks they caused: what a fallible driving critic got
  wrong, by the exact judge (defined in evals/bench/false_alarms.py).
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any, Sequence

Z95 = 1.959963984540054  # the 97.5% normal quantile


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a binomial proportion; None when nothing was counted."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(successes: int, n: int) -> dict[str, Any]:
    ci = wilson(successes, n)
    return {"rate": round(successes / n, 4) if n else None, "successes": successes, "n": n,
            "ci": [round(ci[0], 4), round(ci[1], 4)] if ci else None}


def success_by_k(choice: Sequence[int | None], final: int | None, ok: Sequence[bool], budget: int,
                 extends: bool) -> list[bool]:
    """Whether the method's answer after k images is all-correct, for k = 1..budget.

    ``choice[k-1]`` indexes the answer after k images; a method that stopped early keeps its final
    answer for the rest of the budget (``extends``); one defined at a single budget does not.
    """
    full = list(choice)
    if extends:
        full += [final] * (budget - len(full))
    return [c is not None and bool(ok[c]) for c in full[:budget]]


def first_success(success: Sequence[bool]) -> int | None:
    return next((k for k, s in enumerate(success, 1) if s), None)


def _stats(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    if not values:
        return {"mean": None, "median": None, "total": 0}
    return {"mean": round(statistics.fmean(values), digits), "median": round(statistics.median(values), digits),
            "total": round(sum(values), digits)}


def curve(records: Sequence[dict], budget: int) -> list[dict[str, Any]]:
    points = []
    for k in range(1, budget + 1):
        at_k = [r["success_by_k"][k - 1] for r in records if len(r["success_by_k"]) >= k]
        if at_k:
            points.append({"k": k, **proportion(sum(at_k), len(at_k))})
    return points


def calls_to_success(records: Sequence[dict]) -> dict[str, Any]:
    calls = [r["calls_to_success"] for r in records if r["calls_to_success"] is not None]
    s = _stats(calls)
    return {"mean": s["mean"], "median": s["median"], "n": len(calls)}


def requirement_accuracy(records: Sequence[dict]) -> dict[str, Any]:
    """Requirements of each answer that pass, overall and by kind (no answer: all fail)."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in records:
        failed = set(r["shots"][r["final"]]["exact"]["failed"]) if r["final"] is not None else None
        for req in r["checklist"]:
            total[req["kind"]] += 1
            passed[req["kind"]] += int(failed is not None and req["id"] not in failed)
    return {"overall": proportion(sum(passed.values()), sum(total.values())),
            "by_kind": {k: proportion(passed[k], total[k]) for k in sorted(total)}}


def false_accepts(records: Sequence[dict], claim=lambda r: r.get("claimed")) -> dict[str, Any]:
    """Answers claimed all-correct by the driving critic that the exact judge fails; rate over claims.
    ``claim``: what counts as a claim of success (for the agent also: it stopped by accepting)."""
    claims = [r for r in records if claim(r)]
    wrong = sum(not r["all_correct"] for r in claims)
    p = proportion(wrong, len(claims))
    return {"count": wrong, "claimed": len(claims), "rate": p["rate"], "ci": p["ci"]}


def false_drifts(audits: Sequence[dict]) -> dict[str, Any]:
    """The agent's drift detections and the false ones among them, from each run's drift audit."""
    drifts = sum(a["drifts"] for a in audits)
    false = sum(a["false_drifts"] for a in audits)
    p = proportion(false, drifts)
    return {"drifts": drifts, "count": false, "rate": p["rate"], "ci": p["ci"],
            "per_brief": _stats([a["false_drifts"] for a in audits]),
            "backtracks": _stats([a["false_drift_backtracks"] for a in audits]),
            "doubted_losses": sum(a.get("doubted_losses", 0) for a in audits),
            "doubted_wrongly": sum(a.get("doubted_wrongly", 0) for a in audits)}


def summarize(records: Sequence[dict], budget: int) -> dict[str, Any]:
    """Everything deterministic about one method on one set of briefs."""
    out: dict[str, Any] = {
        "briefs": len(records),
        "all_correct": proportion(sum(r["all_correct"] for r in records), len(records)),
        "requirements": requirement_accuracy(records),
        "curve": curve(records, budget),
        "calls_to_success": calls_to_success(records),
        "calls": _stats([r["calls"] for r in records]),
        "critic_calls": _stats([r["usage"]["critic_calls"] for r in records]),
        "tokens": _stats([r["usage"]["tokens"] for r in records]),
        "usd": round(sum(r["usage"]["usd"] for r in records), 6),
        "false_accepts": false_accepts(records),
    }
    agent = [r["info"] for r in records if "drifts" in r.get("info", {})]
    if agent:
        out["agent"] = {"drifts": _stats([a["drifts"] for a in agent]),
                        "backtracks": _stats([a["backtracks"] for a in agent]),
                        "steps": _stats([a["steps"] for a in agent]),
                        "status": dict(sorted(Counter(a["status"] for a in agent).items())),
                        # The agent's own claim: it stopped by accepting (after any confirmation it asks for).
                        "false_acceptances": false_accepts(records, lambda r: r["info"].get("status") == "accepted")}
        audits = [r["drift_audit"] for r in records if "drift_audit" in r]
        if audits:
            out["agent"]["false_drifts"] = false_drifts(audits)
    return out


def summarize_timings(timings: Sequence[dict]) -> dict[str, Any]:
    """Wall time, engine and critic seconds; for the agent its own overhead and checkpoint size."""
    out = {key: _stats([t[key] for t in timings if t.get(key) is not None])
           for key in ("wall_s", "engine_s", "critic_s")}
    runs = [t for t in timings if t.get("overhead_share") is not None]
    if runs:
        wall = sum(t["run_s"] for t in runs)
        own = sum(max(0.0, t["run_s"] - t["engine_s_spend"] - t["critic_s"]) for t in runs)
        # Mean of per-run shares, and pooled (total overhead over total time: long runs weigh more).
        out["overhead_share"] = {"mean": round(statistics.fmean(t["overhead_share"] for t in runs), 4),
                                 "pooled": round(own / wall, 4) if wall else None}
        per_step = [t["checkpoint_bytes_per_step"] for t in runs if t.get("checkpoint_bytes_per_step")]
        out["checkpoint_bytes_per_step"] = _stats(per_step, 1)
    return out


def groups(difficulties: Sequence[int]) -> list[tuple[str, set[int]]]:
    """Report columns: one per difficulty, and "all" when there is more than one."""
    cols = [(str(d), {d}) for d in difficulties]
    return cols + [("all", set(difficulties))] if len(difficulties) > 1 else cols


def aggregate(records: Sequence[dict], timings: dict[str, dict], methods: Sequence[str],
              difficulties: Sequence[int], budget: int) -> tuple[dict, dict]:
    """(deterministic aggregates, timing aggregates), each method -> difficulty column -> summary."""
    agg: dict[str, dict] = {}
    tim: dict[str, dict] = {}
    for m in methods:
        agg[m], tim[m] = {}, {}
        for label, ds in groups(difficulties):
            rs = [r for r in records if r["method"] == m and r["difficulty"] in ds]
            agg[m][label] = summarize(rs, budget)
            tim[m][label] = summarize_timings([timings[record_key(r)] for r in rs])
    return agg, tim


def record_key(record: dict) -> str:
    return f"{record['method']}/{record['brief_id']}"
