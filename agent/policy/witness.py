"""Witnesses: before a fallible critic's all-pass is believed, the image is redrawn lightly (a
variation at ``witness_strength``, which keeps everything) and the redraw judged too. The same
picture has the same truth, but a judge's mistakes on one image do not carry over to another, so
each witness votes on every requirement, pooled with the image's own critique
(policy/belief.py): the votes **confirm** it, leave a **tie** (a second witness breaks it), or
**dispute** a pass — then the agent goes on from the witness, where the critic points at the fault.

A witness counts for less the more it changed the picture (``weigh_witnesses``): a redraw that moved
many pixels may have lost or added something, and is no longer quite the picture it vouches for.
"""
from __future__ import annotations

from typing import Any

from agent.policy import belief
from agent.policy.config import PolicyConfig
from agent.policy.outcome import Judgement
from agent.tree import Tree, TreeNode, merge_nodes


def weight(witness: TreeNode, cfg: PolicyConfig) -> float:
    """1 for a redraw that changed at most ``witness_quiet`` of the pixels (most do), less beyond:
    ``witness_quiet / changed share``, never below one half."""
    share = witness.changed_share
    if not cfg.weigh_witnesses or share is None or share <= cfg.witness_quiet:
        return 1.0
    return round(max(0.5, cfg.witness_quiet / share), 4)


def judge_witness(tree: Tree, node_id: str, witness_id: str, state: dict[str, Any],
                  cfg: PolicyConfig | None = None) -> Judgement:
    """A witness of ``node_id`` (a light redraw: the same picture, judged independently) votes on
    each requirement; the pooled votes confirm the node, leave a tie (another witness breaks it), or
    dispute a pass — then the agent goes on from the witness, where the critic points at the fault."""
    node, witness = tree[node_id], tree[witness_id]
    said = set(witness.critique.passed) if witness.critique else set()
    w = weight(witness, cfg or PolicyConfig())
    votes = {r: round(node.votes.get(r, 0) + (w if r in said else -w), 4) for r in belief.margins(node)}
    updated = node.model_copy(update={"votes": votes, "witnesses": node.witnesses + [witness_id]})
    margins = belief.margins(updated)
    if all(m > 0 for m in margins.values()):
        move, current = "confirmed", node_id
        why = f"a light redraw ({witness_id}) passes what {node_id} passes: confirmed"
    elif all(m >= 0 for m in margins.values()):
        move, current = "tie", node_id
        why = (f"a light redraw ({witness_id}) fails {', '.join(belief.ties(updated))}, which {node_id} passes: one "
               "more look decides")
    else:
        move, current = "disputed", witness_id
        lost = [r for r, m in margins.items() if m < 0]
        why = (f"the light redraws of {node_id} fail {', '.join(lost)}: taken as failing; the agent goes on "
               f"from {witness_id}, where the critic points at what is wrong")
    updates = {node_id: {"votes": votes, "witnesses": updated.witnesses}, witness_id: {"outcome": move}}
    best = belief.best(Tree(merge_nodes({i: tree[i].to_state() for i in tree.ids()}, updates)))
    improved = best != state.get("best")
    return Judgement(outcome=move, reason=why, origin=node_id, child=witness_id, current=current, best=best,
                     since_best=0 if improved else state.get("since_best", 0) + 1, below_best=0,
                     node_updates=updates, counters={{"confirmed": "confirmations", "tie": "ties",
                                                      "disputed": "disputes"}[move]: 1})
