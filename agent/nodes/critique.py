"""critique: the critic answers every requirement for each new image.

Full critiques are written to the run folder (and reused from there, so a resumed step does not
pay a model twice); the state keeps a compact form. When the critic fails, policy/stopping.py
says whether the run stops.
"""
from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command

from agent.context import RunContext, context_of
from agent.contracts import Critique
from agent.critics.base import CriticError, CriticUnavailable
from agent.nodes.common import checklist_digest, checklist_of, emit
from agent.policy import stopping
from agent.state import add_numbers
from agent.tree import CritiqueSummary, Tree


def critique(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    checklist = checklist_of(state)
    digest = checklist_digest(state["checklist"])
    tree = Tree(state["nodes"])
    updates: dict[str, dict] = {}
    spend: dict[str, float] = {}
    failures = state.get("critic_failures", 0)
    step = state.get("step", 0) + 1
    for node_id in state.get("new_nodes", []):
        node = tree[node_id]
        path = ctx.store.critique_path(node.image_hash, ctx.critic.name, digest)
        rel = path.relative_to(ctx.store.root).as_posix()
        if path.exists():
            crit = Critique.model_validate_json(path.read_text())
        else:
            try:
                crit = ctx.critic.critique(ctx.store.load_image(node.image), state["brief"], checklist)
            except CriticUnavailable as exc:
                spend = add_numbers(spend, exc.usage.as_spend())
                emit(ctx, state, "critique", key=f"{node_id}:unavailable", node_id=node_id, error=str(exc),
                     fatal=True)
                stop = stopping.critic_unreachable(str(exc))
                return Command(goto="finish", update={"status": stop.status.value, "stop_reason": stop.reason,
                                                      "spend": spend, "counters": {"critic_failures": 1}})
            except CriticError as exc:
                failures += 1
                spend = add_numbers(spend, exc.usage.as_spend())
                updates[node_id] = {"critique": None, "critique_error": str(exc)[:300]}
                emit(ctx, state, "critique", key=f"{node_id}:error", node_id=node_id, error=str(exc)[:300],
                     usage=exc.usage.model_dump(), last_reply=(exc.last_reply or "")[:300])
                stop = stopping.after_critic_error(failures, str(exc), ctx.policy)
                if stop:
                    return Command(goto="finish", update={
                        "nodes": updates, "status": stop.status.value, "critic_failures": failures,
                        "stop_reason": stop.reason, "spend": spend, "counters": {"critic_failures": 1},
                        "step": step})
                continue
            ctx.store.write_json(path, crit.model_dump(mode="json"))
            spend = add_numbers(spend, crit.usage.as_spend())
        failures = 0
        updates[node_id] = {"critique": CritiqueSummary.of(crit, rel).model_dump(mode="json", exclude_none=True),
                            "critique_error": None}
        if state.get("checklist_version") or node.judged_on:  # the brief as a person last changed it
            updates[node_id]["judged_on"] = state.get("checklist_version", 0)
        emit(ctx, state, "critique", key=node_id, node_id=node_id, score=crit.score, passed=crit.passed_ids,
             failed=crit.failed_ids, critic=crit.critic, prompt_version=crit.prompt_version,
             usage=crit.usage.model_dump(), reasons={v.id: v.evidence for v in crit.verdicts if not v.passed})
    return Command(goto="select", update={
        "nodes": updates, "spend": spend, "critic_failures": failures, "step": step,
        "counters": {"critic_failures": sum(1 for u in updates.values() if u.get("critique_error"))}})
