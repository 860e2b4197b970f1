"""The graph state: JSON-able data only (paths, seeds, parameters, compact critiques).

Images live on disk and full critiques in the run folder; the state keeps what decisions need, so
a checkpoint stays small and a run can be resumed or replayed. Typed views of the parts that have
structure: :class:`agent.tree.TreeNode` (``nodes``), :class:`agent.policy.Decision` (``decision``),
:class:`agent.policy.Judgement` (``judgement``), :class:`agent.contracts.Action` (``pending``).
"""
from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict, get_args, get_origin, get_type_hints

from agent.tree import merge_nodes


def add_numbers(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Updates are increments, so nodes report what *they* used and nothing is counted twice."""
    out = dict(old or {})
    for k, v in (new or {}).items():
        out[k] = round(out.get(k, 0) + v, 6)
    return out


class RunInput(TypedDict, total=False):
    """What starts or re-enters a run (the graph's input schema).

    A new run gives at least ``brief``; the run lifecycle also gives the run id, mode, seed and, when
    the person brings an image, ``start_image``. Re-entering a finished run gives ``reopen``: why
    (``{"reason": "budget raised"}``), optionally a node to continue from (``"node": "n3"``).
    """

    brief: str
    run_id: str
    mode: str
    seed: int
    start_image: str | None  # run-relative path of the person's own image: the root of the tree
    reopen: dict[str, Any] | None


class RunState(TypedDict, total=False):
    run_id: str
    brief: str
    mode: str  # "auto" | "chat"
    start_image: str | None
    prompt: str  # the current base prompt
    negative_prompt: str | None
    checklist: list[dict]  # Requirement dicts, fixed for the run (chat feedback may add)
    hints: list[str]  # rewrite hints from a person's feedback
    nodes: Annotated[dict[str, dict], merge_nodes]  # the tree: id -> TreeNode dict
    current: str | None  # the node the next action starts from
    best: str | None
    pending: dict | None  # the decided Action, not yet carried out
    rewrite: str | None  # what the pending action still needs written: "prompt" | "region" | None
    new_nodes: list[str]  # made by the last generate step, awaiting critique and selection
    tried_prompts: Annotated[list[str], operator.add]
    spend: Annotated[dict[str, float], add_numbers]
    seed: int
    next_seed: int
    step: int
    since_best: int  # steps since the best node last improved (plateau)
    below_best: int  # consecutive steps the current node stayed below the best (stagnation)
    critic_failures: int  # consecutive critiques that failed
    counters: Annotated[dict[str, float], add_numbers]  # drifts, backtracks, critic failures, ...
    status: str  # an agent.status.Status value
    stop_reason: str | None
    decision: dict | None  # the last Decision, for the report and chat
    judgement: dict | None  # the last Judgement of a new image, for backtrack and the report
    question_error: str | None  # chat: why the person's last answer could not be taken
    # The person's word (chat; agent/policy/person.py, amend.py):
    picked: str | None  # their pick: the answer unless they accept another image
    checklist_version: int  # 0 as planned; one more for each change a person made to the brief
    edit_request: dict | None  # the region or feedback request whose image is being made
    amend_question: dict | None  # a change the person's edit would make to the brief, awaiting their word
    rejudge: bool  # new_nodes are earlier images judged again against the brief as it is now
    cancelled: bool  # the person stopped the last image: nothing was made, and they are asked again
    offer: str | None  # an image the agent would accept over the person's pick, offered to them in words
    reopen: dict[str, Any] | None  # the input that re-entered a finished run (consumed by enter)


def apply_update(state: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The state after a node's ``update``, merged as the graph merges it: through each channel's
    reducer where :class:`RunState` declares one (nodes by id, spend and counters added up)."""
    hints = get_type_hints(RunState, include_extras=True)
    out = dict(state)
    for key, value in update.items():
        hint = hints.get(key)
        reducer = get_args(hint)[1] if get_origin(hint) is Annotated else None
        if reducer is None:
            out[key] = value
        else:  # from an empty value of the update's own type when the state has none yet
            out[key] = reducer(out[key] if key in out else type(value)(), value)
    return out
