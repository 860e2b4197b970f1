"""ask_human (chat mode): show the person the critique and take their word.

This node only interrupts; all GPU work happens before it, because a resumed node re-runs from
its start. The answers are typed in agent/answers.py; what each one does is decided in
agent/policy/answers.py; this node records a pick as a preference, adds a feedback's requirements
(where the critic can check free text), remembers the request an edit carries out (so its image is
read against it, agent/policy/amend.py) and applies the move. A refused answer leaves no trace but
the question's error: nothing the person did not get is in the chat.
"""
from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from agent.answers import ANSWERS, Feedback, Pick, RedoRegion, read_answer
from agent.context import RunContext, context_of
from agent.nodes.common import amended, amendment_words, checklist_of, emit, load_critique, sampler_steps
from agent.policy import answers, belief
from agent.tree import ROOT, Tree


def _question(ctx: RunContext, state: dict, tree: Tree) -> dict[str, Any]:
    cur = tree[state.get("current") or ROOT]
    crit = load_critique(ctx, cur)
    batch = tree.last_batch()
    texts = {r["id"]: r["text"] for r in state["checklist"]}
    asked = state.get("amend_question")
    return {
        "node": cur.id, "image": cur.image, "score": belief.score(cur), "best": state.get("best"),
        "picked": state.get("picked"),
        # The critic's verdicts corrected by witnesses and pixel checks (policy/belief.py), in words.
        "verdicts": [{**v, "text": texts.get(v["id"], v["id"])} for v in belief.verdicts(
            cur, [v.model_dump(include={"id", "passed", "evidence", "judged"}) for v in crit.verdicts])] if crit else [],
        "variations": [{"node": i, "image": tree[i].image, "score": belief.score(tree[i])} for i in batch]
        if len(batch) > 1 else [],
        "report": str(ctx.store.report_path), "options": list(ANSWERS), "error": state.get("question_error"),
        # What only the person can say: whether their edit's change to the brief stands, and
        # whether an image the agent would accept replaces their pick (policy/amend.py, person.py).
        "amend": {"question": asked["question"], "detail": asked.get("detail")} if asked else None,
        "offer": state.get("offer"), "cancelled": bool(state.get("cancelled")),
    }


def ask_human(state: dict, runtime: Runtime[RunContext]):
    ctx = context_of(runtime, state)
    tree = Tree(state["nodes"])
    current = state.get("current") or ROOT
    if tree[current].critique is None and not state.get("cancelled"):  # nothing to show yet
        return Command(goto="decide")
    from agent.report import write_report  # the person may want to look at the tree first

    write_report(ctx.store, state, ctx.budget)
    raw = interrupt(_question(ctx, state, tree))
    step = state.get("step", 0) + 1

    def again(msg: str):
        return Command(goto="ask_human", update={"question_error": msg, "step": step})

    try:
        answer = read_answer(raw)
    except ValueError as exc:
        return again(str(exc))
    move = answers.take(answer, state, ctx.policy, ctx.budget, sampler_steps(ctx))
    if move.route == "ask" and move.reason:
        return again(move.reason)
    emit(ctx, state, "ask_human", answer=answer.model_dump(mode="json"), node_id=current,
         amendment=amendment_words(move.amendment) if move.amendment else None)
    # Any answer settles what was waiting for the person's word.
    update: dict = {"step": step, "question_error": None, "amend_question": None, "offer": None,
                    "cancelled": False}
    if move.route == "finish":
        update.update({"status": move.status.value, "stop_reason": move.reason})
        if move.best:
            update["best"] = move.best
    if move.current:
        update.update({"current": move.current, "below_best": 0} if move.route == "ask" else {"current": move.current})
    if move.picked:
        update["picked"] = move.picked
    if isinstance(answer, Pick):
        _record_pick(ctx, state, tree, answer.node)
        update["counters"] = {"human_picks": 1}
    if move.node_updates:
        update["nodes"] = move.node_updates
    if move.amendment is not None:  # the person keeps their change: the brief follows it
        update.update(amended(state, move.amendment, move.judge[0]))
    if move.route == "critique":
        update.update({"new_nodes": move.judge, "rejudge": move.rejudge})
    if move.action is not None:
        first = state.get("next_seed", 0)
        action = move.action.model_copy(update={"seeds": [first + i for i in range(move.action.generations)]})
        update.update({"pending": action.to_state(), "rewrite": move.rewrite,
                       "next_seed": first + action.generations,
                       "edit_request": _request(answer, current)})
    if isinstance(answer, Feedback):
        extra = ctx.critic.feedback_requirements(answer.text, state["brief"], checklist_of(state))
        update.update({"hints": state.get("hints", []) + [answer.text],
                       "checklist": state["checklist"] + [r.model_dump(mode="json") for r in extra]})
    return Command(goto="ask_human" if move.route == "ask" else move.route, update=update)


def _request(answer, origin: str) -> dict | None:
    """The person's request an edit carries out, read against its image in select (policy/amend.py)."""
    if isinstance(answer, RedoRegion):
        return {"kind": "region", "text": answer.prompt, "origin": origin}
    if isinstance(answer, Feedback):
        return {"kind": "feedback", "text": answer.text, "origin": origin}
    return None



def _record_pick(ctx: RunContext, state: dict, tree: Tree, chosen: str) -> None:
    """A person's pick among variations is a preference pair for critic evals (picks.jsonl)."""
    batch = tree.last_batch()
    critic_pick = next((i for i in batch if tree[i].sibling_rank == 0), None)
    ctx.store.append_pick({
        "pick_id": f"{state.get('run_id')}:{state.get('step', 0)}", "run_id": state.get("run_id"),
        "brief": state["brief"], "chosen": tree[chosen].image,
        "rejected": [tree[i].image for i in batch if i != chosen], "critic": ctx.critic.name,
        "critic_preference": tree[critic_pick].image if critic_pick else None,
        "node_ids": {"chosen": chosen, "rejected": [i for i in batch if i != chosen]},
    })
