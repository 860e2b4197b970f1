"""What the agent believes, and which node is best: every rule that reads a node's critique through
the agent's own evidence lives here; agent/tree.py only holds the data.

- a requirement's **margin** at a node is its own critique's verdict (+1 pass, -1 fail; a failure the
  pixels contradict, a *doubted loss*, counts as a pass) plus the witnesses' votes (passes minus
  failures among the light redraws judged for it): above 0 it holds, below 0 it fails, 0 is a tie;
- a tie counts as a failure when deciding (nothing is accepted on a coin toss) and as half a pass
  in the score;
- the **score** is the critic's, corrected by what the agent believes better;
- the **best** node is the highest score anywhere in the tree (among the images judged against the
  brief as a person last changed it), the earliest among equals; an accepted node is the answer
  whatever another node scores, and a person's pick is (policy/person.py).
"""
from __future__ import annotations

from typing import Any

from agent.tree import Tree, TreeNode

# The name of VQAScore's question template (prompts/): a critique made with it records it as its
# prompt_version, which is how a rule knows its score is a probability (agent/critics/vqascore.py).
VQASCORE_TEMPLATE = "vqascore"


def margins(node: TreeNode) -> dict[str, int]:
    """Requirement -> margin at ``node`` (empty without a critique)."""
    if not node.critique:
        return {}
    own = {r: 1 for r in node.critique.passed} | {r: (1 if r in node.doubted else -1)
                                                  for r in node.critique.failed}
    return {r: v + node.votes.get(r, 0) for r, v in own.items()}


def passed(node: TreeNode) -> set[str]:
    """The requirements that hold at ``node``, as far as the agent believes."""
    return {r for r, m in margins(node).items() if m > 0}


def failed(node: TreeNode) -> list[str]:
    """The requirements that fail at ``node`` (ties included), in the critique's order."""
    m = margins(node)
    order = (node.critique.failed + node.critique.passed) if node.critique else []
    return [r for r in order if m[r] <= 0]


def ties(node: TreeNode) -> list[str]:
    return [r for r, m in margins(node).items() if m == 0]


def confirmed(node: TreeNode) -> bool:
    """A witness was judged and nothing is in doubt."""
    return bool(node.witnesses) and all(m > 0 for m in margins(node).values())


def score(node: TreeNode) -> float:
    """The critic's score corrected by belief (a requirement believed to hold counts 1, a tie 1/2, a
    failure 0, in place of the critique's verdict); -1 for a node without a critique."""
    if not node.critique:
        return -1.0
    m = margins(node)
    n = max(1, len(m))
    said = {r: 1.0 for r in node.critique.passed} | {r: 0.0 for r in node.critique.failed}
    believed = {r: 1.0 if v > 0 else 0.5 if v == 0 else 0.0 for r, v in m.items()}
    return round(node.critique.score + sum(believed[r] - said[r] for r in m) / n, 4)


def score_is_certainty(node: TreeNode) -> bool:
    """Whether the node's score is a VQAScore — the mean probability the critic gives its "yes"s —
    rather than a judge's mark: then a low score of an image where everything passes says the
    critic is unsure, not that something visible is wrong."""
    version = (node.critique.prompt_version or "") if node.critique else ""
    return version.split("@")[0] == VQASCORE_TEMPLATE


def best(tree: Tree) -> str | None:
    """The node with the highest believed score (the earliest among equals), or None before any critique.
    Only nodes judged against the brief as it is now compete: once a person changed the brief
    (policy/amend.py), an image scored against the old one is not what they asked for."""
    scored = [i for i in tree.ids() if tree[i].critique]
    newest = max((tree[i].judged_on for i in scored), default=0)
    scored = [i for i in scored if tree[i].judged_on == newest]
    return max(scored, key=lambda i: (score(tree[i]), -tree[i].seq)) if scored else None


def by_score(tree: Tree, ids: list[str]) -> list[str]:
    """``ids`` best first by believed score, the earlier among equals: how new images are ranked when
    the critic cannot rank them."""
    return sorted(ids, key=lambda i: (-score(tree[i]), tree[i].seq))


def answer_on_accept(current: str | None) -> str | None:
    """What was accepted is the answer, whatever another node scored."""
    return current


def verdicts(node: TreeNode, said: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The critic's verdicts at ``node`` (dicts with ``id`` and ``passed``) with ``passed`` replaced by
    what the agent believes and the critic's word kept as ``critic``: one merge for the chat question,
    the report, the run's result and the studio's checklist."""
    held = passed(node)
    return [{**v, "critic": v.get("passed"), "passed": v["id"] in held} for v in said]
