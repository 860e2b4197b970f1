"""agent/policy/person.py: the person's pick and picture outrank what the agent believes."""
from __future__ import annotations

from agent.contracts import Action
from agent.policy import PolicyConfig, belief, next_move, person
from agent.policy.tabu import why_banned
from agent.tree import ROOT, Tree
from tests.policy_states import BUDGET, crit, state

CFG = PolicyConfig()


def own_picture(failed=("g0.object", "g1.object", "g0.left_of.g1", "background"), **extra):
    """A run from the person's picture, standing on it (nothing of the brief holds there)."""
    s = state(crit(list(failed)), **extra)
    s["nodes"][ROOT] = {"id": ROOT, "image": "images/mine.png", "critique": crit(list(failed))}
    s["nodes"].pop("n1")
    s.update(current=ROOT, best=ROOT)
    return s


def test_a_run_from_the_persons_picture_makes_no_fresh_image_unless_they_allow_it():
    txt2img = Action(kind="txt2img")
    root = Tree(own_picture()["nodes"])[ROOT]
    assert why_banned(root, txt2img, CFG) == person.OWN_PICTURE
    assert why_banned(root, txt2img, PolicyConfig(allow_fresh=True)) is None
    brief_root = Tree(state(crit([]))["nodes"])[ROOT]  # a run from the brief: fresh images as ever
    assert why_banned(brief_root, txt2img, CFG) is None
    # Nothing holds on the person's picture: the agent would start afresh; here it rebuilds the picture
    # as strongly as an edit goes, and says why.
    assert next_move(own_picture(), PolicyConfig(allow_fresh=True), BUDGET).action.kind == "txt2img"
    d = next_move(own_picture(), CFG, BUDGET)
    assert (d.route, d.action.kind, d.action.strength, d.rewrite) == ("generate", "img2img", CFG.max_strength, "prompt")
    assert "leave your picture behind" in d.reason and person.OWN_PICTURE in d.notes[0]
    # Once that too is used up there, the run ends on the picture's own line, never on a fresh image.
    tried = own_picture()
    tried["nodes"][ROOT]["failures"] = {"img2img": CFG.kind_retries}
    assert next_move(tried, CFG, BUDGET).route == "stop"


def test_the_persons_pick_is_the_answer_unless_they_accept_another():
    s = state(crit(["g0.object"]), picked="n1", status="budget")
    s["nodes"]["n2"] = {"id": "n2", "seq": 2, "parent": "n1", "origin": "n1", "image": "2.png", "critique": crit([])}
    s["best"] = belief.best(Tree(s["nodes"]))
    assert s["best"] == "n2" and person.answer(s) == "n1"  # passes less, yet the person's word
    assert person.answer({**s, "status": "accepted", "best": "n2"}) == "n2"  # they accepted n2
    assert person.answer({**s, "picked": None}) == "n2"


def test_an_image_the_agent_would_accept_over_the_pick_is_offered_not_taken():
    s = state(crit(["g0.object"]), picked="n1", mode="chat")
    s["nodes"]["n2"] = {"id": "n2", "seq": 2, "parent": "n1", "origin": "n1", "image": "2.png", "critique": crit([])}
    s["current"] = "n2"
    assert person.offer(s) == "n2 passes 4 of 4 requirements (your pick n1: 3); your pick stays the answer unless " \
                              "you accept n2"
    assert person.offer({**s, "current": "n1"}) is None  # the pick itself: accept it
    assert person.offer({**s, "mode": "auto"}) is None and person.offer({**s, "picked": None}) is None


def test_the_best_image_is_among_those_judged_against_the_brief_as_the_person_changed_it():
    s = state(crit([]))  # n1 passed every requirement of the brief before it changed
    s["nodes"]["n2"] = {"id": "n2", "seq": 2, "parent": "n1", "image": "2.png", "critique": crit(["g0.object"]),
                        "judged_on": 1}
    assert belief.best(Tree(s["nodes"])) == "n2"
