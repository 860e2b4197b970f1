"""What a fallible driving critic got wrong, checked by the exact judge.

* **false accept**: the method's answer passed every requirement by its driving critic (its claim of
  success) but not by the exact judge. Counted over the briefs where the method claimed success;
  methods that use no critic claim nothing.
* **false drift**: the agent detected drift (a node with outcome "drift" and requirements it said
  were lost) although, by the exact judge, none of those requirements was lost: each either still
  holds at the new image (the critic failed it there) or did not hold at the origin either (the
  critic passed it there). A drift also caused by pixels changed outside an inpaint's mask is
  measured, not claimed, and never false.
* **backtracks caused**: the backtrack events away from a falsely drifted node.
* **doubted losses**: losses the critic claimed that the agent did not take as lost because the
  pixels contradicted them (a node's ``doubted`` list, where the agent records it); "doubted
  wrongly" counts those the exact judge says were really lost.

With the exact critic driving, all of these are 0 by construction; the noise sweep measures how
they grow with the critic's error rate. Records carry what is needed (each shot's claim, the
agent run's audit); evals/bench/metrics.py aggregates them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from agent.events import BacktrackEvent
from agent.run_files import RunFolder
from tools.errors import InputError
from evals.bench.errors import BenchError
from evals.bench.judge import ExactJudge


def drift_audit(run_dir: Path, brief: str, judge: ExactJudge) -> dict[str, Any]:
    """Every drift the agent run in ``run_dir`` detected, with the exact judge's view of it."""
    try:
        run = RunFolder.read(run_dir)
    except InputError as exc:
        raise BenchError(f"the agent run {run_dir} cannot be read ({exc}); delete its record to run it again") from exc
    tree, events = run.nodes, run.events
    tolerance = run.spec.policy.outside_tolerance
    drifts = []
    doubted, doubted_wrongly = 0, 0
    for nid in tree.ids():  # creation order (ids are opaque)
        node = tree[nid]
        doubts = list(getattr(node, "doubted", None) or [])
        if not doubts and (node.outcome != "drift" or not node.lost):
            continue
        origin = tree[node.origin]
        before = set(judge.judge(brief, origin.image_hash, path=run_dir / origin.image)["failed"])
        after = set(judge.judge(brief, node.image_hash, path=run_dir / node.image)["failed"])
        doubted += len(doubts)
        doubted_wrongly += sum(r not in before and r in after for r in doubts)
        if node.outcome != "drift" or not node.lost:
            continue
        lost = [r for r in node.lost if r not in before and r in after]
        outside = (node.outside_change or 0.0) > tolerance
        backtracks = [e.event_id for e in events if isinstance(e, BacktrackEvent)
                      and e.away_from == nid and e.outcome == "drift"]
        drifts.append({"node": nid, "origin": node.origin, "claimed_lost": list(node.lost), "lost": lost,
                       "held_at_child": [r for r in node.lost if r not in after],
                       "not_held_at_origin": [r for r in node.lost if r in before and r in after],
                       "outside_mask": outside, "false": not lost and not outside,
                       "backtracks": len(backtracks)})
    false = [d for d in drifts if d["false"]]
    return {"drifts": len(drifts), "false_drifts": len(false),
            "false_drift_backtracks": sum(d["backtracks"] for d in false), "doubted_losses": doubted,
            "doubted_wrongly": doubted_wrongly, "details": drifts}


def claimed(shots: Sequence[dict], final: int | None) -> bool | None:
    """Whether the method's answer passed every requirement by its driving critic (None: no critic)."""
    return None if final is None else shots[final].get("claimed")
