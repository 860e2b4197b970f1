"""critique: the critic answers every requirement for each new image.

Full critiques are written to the run folder (and reused from there, so a resumed step does not
pay a model twice); the state keeps a compact form. A critic that cannot be reached stops the run
cleanly with its status, resumable once the critic is back; one unusable reply marks the image
and the run goes on, until too many fail in a row.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.contracts import Critique, Requirement
from agent.context import RunContext
from agent.critics.base import CriticError, CriticUnavailable
from agent.nodes.common import checklist_digest, emit
from agent.state import RunState, add_numbers


def compact(crit: Critique, file: str) -> dict:
    """What decisions need from a critique, small enough to checkpoint every step."""
    return {
        "score": round(crit.score, 4),
        "passed": crit.passed_ids,
        "failed": crit.failed_ids,
        "defects": [d.model_dump(mode="json", exclude_none=True) for d in crit.defects],
        "regions": {v.id: v.region.model_dump() for v in crit.verdicts if not v.passed and v.region},
        "recommended": crit.recommended.model_dump(mode="json", exclude_none=True) if crit.recommended else None,
        "critic": crit.critic,
        "prompt_version": crit.prompt_version,
        "file": file,
    }


def critique(state: RunState, runtime: Runtime[RunContext]):
    ctx = runtime.context
    checklist = [Requirement.model_validate(r) for r in state["checklist"]]
    digest = checklist_digest(state["checklist"])
    updates: dict[str, dict] = {}
    spend: dict[str, float] = {}
    failures = state.get("critic_failures", 0)
    for node_id in state.get("new_nodes", []):
        node = state["nodes"][node_id]
        path = ctx.store.critique_path(node["image_hash"], ctx.critic.name, digest)
        rel = path.relative_to(ctx.store.root).as_posix()
        if path.exists():
            crit = Critique.model_validate_json(path.read_text())
        else:
            try:
                crit = ctx.critic.critique(ctx.store.load_image(node["image"]), state["brief"], checklist)
            except CriticUnavailable as exc:
                spend = add_numbers(spend, exc.usage.as_spend())
                emit(runtime, state, "critique", key=f"{node_id}:unavailable", node_id=node_id, error=str(exc),
                     fatal=True)
                return Command(goto="finish", update={
                    "status": "critic_unavailable", "stop_reason": f"critic unreachable: {exc}",
                    "spend": spend, "counters": {"critic_failures": 1}})
            except CriticError as exc:
                failures += 1
                spend = add_numbers(spend, exc.usage.as_spend())
                updates[node_id] = {"critique": None, "critique_error": str(exc)[:300]}
                emit(runtime, state, "critique", key=f"{node_id}:error", node_id=node_id, error=str(exc)[:300],
                     usage=exc.usage.model_dump(), last_reply=(exc.last_reply or "")[:300])
                if failures >= ctx.policy.max_critic_failures:
                    return Command(goto="finish", update={
                        "nodes": updates, "status": "critic_failed", "critic_failures": failures,
                        "stop_reason": f"the critic gave no usable answer {failures} times in a row: {exc}",
                        "spend": spend, "counters": {"critic_failures": 1}, "step": state.get("step", 0) + 1})
                continue
            ctx.store.write_json(path, crit.model_dump(mode="json"))
            spend = add_numbers(spend, crit.usage.as_spend())
        failures = 0
        updates[node_id] = {"critique": compact(crit, rel), "critique_error": None}
        emit(runtime, state, "critique", key=node_id, node_id=node_id, score=crit.score, passed=crit.passed_ids,
             failed=crit.failed_ids, critic=crit.critic, prompt_version=crit.prompt_version,
             usage=crit.usage.model_dump(), reasons={v.id: v.evidence for v in crit.verdicts if not v.passed})
    return Command(goto="select", update={
        "nodes": updates, "spend": spend, "critic_failures": failures, "step": state.get("step", 0) + 1,
        "counters": {"critic_failures": sum(1 for u in updates.values() if u.get("critique_error"))}})

