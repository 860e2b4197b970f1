"""The graph state: JSON-able data only (paths, seeds, parameters, compact critiques).

Images live on disk and full critiques in the run folder; the state keeps what decisions need, so
a checkpoint stays small and a run can be resumed or replayed.
"""
from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge_nodes(old: dict[str, dict] | None, new: dict[str, dict] | None) -> dict[str, dict]:
    """Nodes are updated by id; an update replaces only the fields it names."""
    out = dict(old or {})
    for node_id, fields in (new or {}).items():
        out[node_id] = {**out.get(node_id, {}), **fields}
    return out


def add_numbers(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Updates are increments, so nodes report what *they* used and nothing is counted twice."""
    out = dict(old or {})
    for k, v in (new or {}).items():
        out[k] = round(out.get(k, 0) + v, 6)
    return out


class RunState(TypedDict, total=False):
    run_id: str
    brief: str
    mode: str  # "auto" | "chat"
    prompt: str  # the current base prompt
    negative_prompt: str | None
    checklist: list[dict]  # Requirement dicts, fixed for the run (chat feedback may add)
    hints: list[str]  # rewrite hints from a person's feedback
    nodes: Annotated[dict[str, dict], merge_nodes]  # the tree: id -> node
    current: str | None  # the node the next action starts from
    best: str | None
    pending: dict | None  # the decided action, not yet carried out
    new_nodes: list[str]  # made by the last generate step, awaiting critique and selection
    tried_prompts: Annotated[list[str], operator.add]
    spend: Annotated[dict[str, float], add_numbers]
    seed: int
    next_seed: int
    step: int
    since_best: int  # steps since the best node last improved (plateau)
    below_best: int  # consecutive steps the current node stayed below the best (stagnation drift)
    critic_failures: int  # consecutive critiques that failed
    counters: Annotated[dict[str, float], add_numbers]  # drifts, backtracks, critic failures, ...
    status: str  # running | accepted | budget | plateau | critic_failed | critic_unavailable | stopped
    stop_reason: str
    decision: dict  # the last decision and its reason (for the report and chat)


# A node, as stored in state["nodes"][id]:
#   id, parent, depth, action (Action dict), prompt, negative_prompt, seed, image (run-relative
#   path), image_hash, params (engine params, small), engine_seconds,
#   critique: {score, passed: [...], failed: [...], defects: [...], recommended, file} | None,
#   critique_error: str | None, outcome: "progress" | "fresh" | "no-progress" | "drift" | None,
#   tabu: [action class keys banned here], tries: {action class key: n}, strengths: {kind: s},
#   (no action repeats with the same seed anywhere: seeds come from next_seed, which only grows)
#   lost: [requirement ids lost against the parent], sibling_rank: int (variations)


def node_score(node: dict[str, Any]) -> float:
    crit = node.get("critique")
    return float(crit["score"]) if crit else -1.0


def passed_ids(node: dict[str, Any]) -> set[str]:
    crit = node.get("critique")
    return set(crit["passed"]) if crit else set()


def path_to(nodes: dict[str, dict], node_id: str | None) -> list[str]:
    """Ids from the root to ``node_id``."""
    out = []
    while node_id:
        out.append(node_id)
        node_id = nodes[node_id].get("parent")
    return out[::-1]
