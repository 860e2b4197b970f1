"""What opening a run folder checks, before anything in it changes: the spec it was started with,
the changes a person asks for (a larger budget, another critic), whether it has a completed step to
resume from, and — while it runs — whether this process still holds its lock."""
from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from agent.locks import Lock, describe, read_holder
from agent.spec import RunSpec, spec_with
from agent.store import RunStore
from tools.errors import InputError, SculptError

THREAD = {"configurable": {"thread_id": "run"}}
# Answers that continue a finished run (they re-enter it); any other needs a question to answer.
CONTINUING = ("branch", "continue")


class LockLost(SculptError):
    """Another process broke this process's lock on a run folder (it judged the lock stale): this
    one stops advancing the run at the next step boundary, so two processes never write one folder."""


def saved_values(store: RunStore) -> dict[str, Any] | None:
    """The run's state at its last completed step, read from the checkpoint without building the
    graph; None when no step was completed (or there is no checkpoint)."""
    if not store.has_checkpoint():
        return None
    conn = sqlite3.connect(store.checkpoint_path)
    try:
        saved = SqliteSaver(conn).get_tuple(THREAD)
    except sqlite3.Error as exc:  # damaged (a disk that filled up, say): kept for whoever looks into it
        raise SculptError(f"{store.checkpoint_path} is unreadable ({exc}); the run cannot be resumed, and its "
                          "folder is kept as it is") from None
    finally:
        conn.close()
    return dict(saved.checkpoint.get("channel_values") or {}) if saved else None


def run_spec_of(store: RunStore) -> RunSpec:
    return store.info().spec


def reopened_spec(spec: RunSpec, store: RunStore, *, budget: int | None, critic_spec: str | None,
                  critic_options: dict[str, Any] | None, localiser: str | None = None) -> tuple[RunSpec, bool]:
    """The spec with a person's changes, and whether anything changed. A budget that does not exceed
    the images the run has made is refused: below them it would rewrite history, at them it buys
    nothing."""
    changes: dict[str, Any] = {}
    if budget is not None:
        made = int(((saved_values(store) or {}).get("spend") or {}).get("generations", 0))
        if budget <= made:
            raise InputError(f"this run has made {made} images already: give it a budget above {made} to make "
                             f"more (got {budget})")
        changes["budget"] = {**spec.budget.model_dump(), "generations": budget}
    if critic_spec:
        changes["critic"] = critic_spec
    if critic_options:
        changes["critic_options"] = {**spec.critic_options, **critic_options}
    if localiser:
        changes["localiser"] = localiser
    return (spec_with(spec, **changes), True) if changes else (spec, False)


def check_still_held(lock: Lock | None, root) -> None:
    """Raise :class:`LockLost` when ``lock`` is no longer this process's (checked at every step)."""
    if lock is None or lock.holds():
        return
    seen = read_holder(lock.path)
    who = describe(seen[0]) if seen else "nobody (the lock file is gone)"
    raise LockLost(f"the lock on {root} was taken over by {who}: this process stopped advancing the run "
                   f"after its last completed step, so two processes never write one run folder; "
                   f"`sculpt resume {root}` continues it once the other is done")


def refuse_unanswerable(snap, answer: Any) -> None:
    """Refuse an answer the run (its graph state ``snap``) cannot take now: one that needs a question
    when the run has ended — a finished run takes only answers that continue it."""
    action = answer.get("action") if isinstance(answer, dict) else None
    if snap.values and not snap.interrupts and not (snap.next or snap.tasks) and action not in CONTINUING:
        raise InputError("this run has ended; continue it (from one of its images, or let the agent go on) "
                         "or start a new one")


def refuse_at_question(values: dict[str, Any], answer: Any, ctx) -> None:
    """Raise InputError with the question's own refusal of ``answer`` (agent/policy/answers.py, a
    pure rule asked in advance), so nothing the run would refuse is sent to it."""
    from agent.answers import read_answer
    from agent.nodes.common import sampler_steps
    from agent.policy import answers

    try:
        typed = read_answer(answer)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    move = answers.take(typed, values, ctx.policy, ctx.budget, sampler_steps(ctx))
    if move.route == "ask" and move.reason:
        raise InputError(move.reason)
