"""ask_human (chat mode): show the person the critique and take their word.

This node only interrupts; all GPU work happens before it, because a resumed node re-runs from
its start. Answers (the value passed with ``Command(resume=...)``):

    {"action": "accept"}                          accept the current image
    {"action": "continue"}                        let the agent decide
    {"action": "feedback", "text": "..."}         a rewrite hint (and a requirement, where the critic can check it)
    {"action": "pick", "node": "n5"}              choose one of the last variations (recorded as a preference)
    {"action": "region", "region": [x0, y0, x1, y1], "prompt": "..."}   redo a region (prompt optional)
    {"action": "vary", "strength": 0.35}          variations of the current image (strength optional), to pick from
    {"action": "stop"}
"""
from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from agent.contracts import Action, Region, Requirement
from agent.context import RunContext
from agent.nodes.common import emit, load_critique
from agent.policy import inpaint_strength, remaining_images, stop_check
from agent.state import RunState, node_score

ANSWERS = ("accept", "continue", "feedback", "pick", "region", "stop", "vary")


def _siblings(state: RunState) -> list[str]:
    """The nodes made by the last generate step, if it made several (variations)."""
    nodes = state["nodes"]
    last = max((n.get("step", -1) for n in nodes.values() if n.get("image")), default=-1)
    return sorted((i for i, n in nodes.items() if n.get("step") == last and n.get("image")),
                  key=lambda i: nodes[i].get("sibling_rank", 0))


def _payload(state: RunState, runtime: Runtime[RunContext], error: str | None) -> dict[str, Any]:
    nodes = state["nodes"]
    cur = nodes[state["current"]]
    crit = load_critique(runtime, cur)
    sibs = _siblings(state)
    return {
        "node": state["current"], "image": cur.get("image"), "score": node_score(cur),
        "best": state.get("best"),
        "verdicts": [{"id": v.id, "passed": v.passed, "evidence": v.evidence} for v in crit.verdicts] if crit else [],
        "variations": [{"node": i, "image": nodes[i]["image"], "score": node_score(nodes[i])} for i in sibs]
        if len(sibs) > 1 else [],
        "report": str(runtime.context.store.report_path),
        "options": list(ANSWERS), "error": error,
    }


def ask_human(state: RunState, runtime: Runtime[RunContext]):
    ctx = runtime.context
    if state.get("current") in (None, "root"):
        return Command(goto="decide")
    from agent.report import write_report  # the person may want to look at the tree first

    write_report(ctx.store, state, ctx.budget)
    error = (state.get("decision") or {}).get("human_error")
    answer = interrupt(_payload(state, runtime, error))
    step = state.get("step", 0) + 1
    kind = answer.get("action") if isinstance(answer, dict) else None

    def retry(msg: str):
        return Command(goto="ask_human", update={"decision": {"human_error": msg}, "step": step})

    if kind not in ANSWERS:
        return retry(f"unknown answer {answer!r}; answer with one of: {', '.join(ANSWERS)}")
    emit(runtime, state, "ask_human", answer=answer, node_id=state["current"])
    if kind == "accept":
        return Command(goto="finish", update={"status": "accepted", "best": state["current"], "step": step,
                                              "stop_reason": "accepted by the person", "decision": {}})
    if kind == "stop":
        return Command(goto="finish", update={"status": "stopped", "stop_reason": "stopped by the person",
                                              "step": step, "decision": {}})
    if kind == "continue":
        return Command(goto="decide", update={"step": step, "decision": {}})
    if kind == "pick":
        return _pick(state, runtime, answer, step, retry)
    stop = stop_check(state, ctx.policy, ctx.budget)
    if stop:  # feedback and regions make images: not past the budget
        return retry(f"{stop[1]}; accept, stop, or resume later with a larger --budget")
    if kind == "feedback":
        text = str(answer.get("text", "")).strip()
        if not text:
            return retry("feedback needs some text")
        checklist = [Requirement.model_validate(r) for r in state["checklist"]]
        extra = ctx.critic.feedback_requirements(text, state["brief"], checklist)
        strength = ctx.policy.rebuild_strength
        action = Action(kind="img2img", strength=strength, source="human", reason=f"feedback: {text}",
                        seeds=[state.get("next_seed", 0)])
        return Command(goto="rewrite_prompt", update={
            "hints": state.get("hints", []) + [text],
            "checklist": state["checklist"] + [r.model_dump(mode="json") for r in extra],
            "pending": action.to_state(), "next_seed": state.get("next_seed", 0) + 1, "step": step,
            "decision": {"job": "prompt", "reason": f"feedback: {text}"}})
    if kind == "vary":
        cfg = ctx.policy
        try:
            strength = float(answer.get("strength") or cfg.variation_strength)
            n = int(min(cfg.variations_n, remaining_images(state, ctx.budget)))
            first = state.get("next_seed", 0)
            action = Action(kind="variations", n=n, strength=strength, source="human",
                            reason=f"the person asked for {n} variations", seeds=[first + i for i in range(n)])
        except (TypeError, ValueError, ValidationError) as exc:
            return retry(f"vary takes an optional strength in (0, 1] ({exc})")
        return Command(goto="generate", update={"pending": action.to_state(), "next_seed": first + n,
                                                "step": step, "decision": {"reason": action.reason}})
    # region
    try:
        x0, y0, x1, y1 = (float(v) for v in answer.get("region", []))
        region = Region(x0=x0, y0=y0, x1=x1, y1=y1)
    except (TypeError, ValueError, ValidationError) as exc:
        return retry(f"a region is four numbers x0 y0 x1 y1 between 0 and 1 with x0 < x1 and y0 < y1 ({exc})")
    prompt = answer.get("prompt") or None
    action = Action(kind="inpaint", regions=[region], prompt=prompt, strength=inpaint_strength(ctx.policy),
                    source="human", reason="the person marked this region", seeds=[state.get("next_seed", 0)])
    goto = "generate" if prompt else "rewrite_prompt"
    return Command(goto=goto, update={"pending": action.to_state(), "next_seed": state.get("next_seed", 0) + 1,
                                      "step": step, "decision": {"job": "region", "reason": action.reason}})


def _pick(state: RunState, runtime: Runtime[RunContext], answer: dict, step: int, retry):
    nodes = state["nodes"]
    sibs = _siblings(state)
    chosen = answer.get("node")
    if len(sibs) < 2 or chosen not in sibs:
        return retry(f"pick one of the last variations: {', '.join(sibs) if len(sibs) > 1 else 'none to pick from'}")
    critic_pick = next((i for i in sibs if nodes[i].get("sibling_rank") == 0), None)
    runtime.context.store.append_pick({
        "pick_id": f"{state.get('run_id')}:{state.get('step', 0)}", "run_id": state.get("run_id"),
        "brief": state["brief"], "chosen": nodes[chosen]["image"],
        "rejected": [nodes[i]["image"] for i in sibs if i != chosen], "critic": runtime.context.critic.name,
        "critic_preference": nodes[critic_pick]["image"] if critic_pick else None,
        "node_ids": {"chosen": chosen, "rejected": [i for i in sibs if i != chosen]},
    })
    return Command(goto="decide", update={"current": chosen, "step": step, "decision": {},
                                          "counters": {"human_picks": 1}})
