"""agent/policy/belief.py: what the agent believes of a node, and which node is best."""
from __future__ import annotations

from agent.policy import belief
from agent.tree import ROOT, Tree, TreeNode
from tests.policy_states import IDS, crit


def node(failed=(), **fields) -> TreeNode:
    return TreeNode.model_validate({"id": "n1", "seq": 1, "image": "images/x.png", "critique": crit(failed),
                                    **fields})


def test_a_tie_fails_when_deciding_and_scores_half():
    # The critic fails g0.object; one witness passes it: +1 - 1 = 0, a tie.
    n = node(["g0.object"], votes={"g0.object": 1}, witnesses=["n2"])
    assert belief.margins(n)["g0.object"] == 0
    assert belief.ties(n) == ["g0.object"]
    assert "g0.object" in belief.failed(n) and "g0.object" not in belief.passed(n)
    assert belief.score(n) == 0.75 + 0.5 / len(IDS)
    assert not belief.confirmed(n)


def test_a_doubted_loss_counts_as_a_pass():
    n = node(["g1.object"], doubted=["g1.object"])
    assert belief.passed(n) == set(IDS) and belief.failed(n) == []
    assert belief.score(n) == 1.0  # the critic's 0.75, corrected by one believed pass


def test_witnesses_that_agree_confirm_and_the_score_is_the_critics_when_nothing_is_overruled():
    n = node([], votes={i: 1 for i in IDS}, witnesses=["n2"])
    assert belief.confirmed(n) and belief.score(n) == 1.0
    assert belief.score(node(["background"])) == 0.75
    assert belief.score(TreeNode(id=ROOT)) == -1.0  # no critique


def test_failed_keeps_the_critiques_order_and_disputed_passes_fail():
    n = node(["background", "g0.object"], votes={"g1.object": -2}, witnesses=["n2", "n3"])
    assert belief.failed(n) == ["background", "g0.object", "g1.object"]


def test_the_best_node_is_the_highest_believed_score_the_earliest_among_equals():
    nodes = {ROOT: {"id": ROOT},
             "n1": {"id": "n1", "seq": 1, "image": "a.png", "critique": crit(["g0.object"])},
             "n2": {"id": "n2", "seq": 2, "image": "b.png", "critique": crit(["g1.object"])},
             "n3": {"id": "n3", "seq": 3, "image": "c.png", "critique": crit(["g1.object"]),
                    "doubted": ["g1.object"]}}
    tree = Tree(nodes)
    assert belief.best(tree) == "n3"  # its claimed failure is doubted: all four believed to hold
    assert belief.by_score(tree, ["n1", "n2", "n3"]) == ["n3", "n1", "n2"]  # n1 before n2: earlier
    assert belief.best(Tree({ROOT: {"id": ROOT}})) is None
    assert belief.answer_on_accept("n2") == "n2"


def test_verdicts_keep_the_critics_word_beside_the_belief():
    n = node(["g1.object"], doubted=["g1.object"])
    said = [{"id": "g1.object", "passed": False, "evidence": "no blue square"},
            {"id": "g0.object", "passed": True, "evidence": ""}]
    out = belief.verdicts(n, said)
    assert out[0] == {"id": "g1.object", "passed": True, "critic": False, "evidence": "no blue square"}
    assert out[1]["passed"] is True and out[1]["critic"] is True
