"""agent/policy/amend.py: a person's request that contradicts the brief changes it, or asks them first."""
from __future__ import annotations

from agent.policy.amend import apply, read_edit, stale
from agent.tree import Tree
from tests.policy_states import BRIEF, CHECKLIST

TEXT = BRIEF.text()  # a red circle to the left of a blue square, yellow background


def texts(checklist):
    return [r["text"] for r in checklist]


def test_painting_a_new_object_over_one_the_edit_lost_replaces_it_and_its_relations():
    read = read_edit(CHECKLIST, TEXT, "a green circle", "region", ["g1.object", "g0.left_of.g1"], 0, origin="n2")
    a = read.amendment
    assert read.question is None and a.by == "person" and a.version == 1 and a.request == "a green circle"
    assert [r.id for r in a.replaced] == ["g1.object", "g0.left_of.g1"]
    assert [(r.text, r.replaces, r.amended_by) for r in a.added] == [
        ("a green circle", ("g1.object",), "person"),
        ("the red circle is left of the green circle", ("g0.left_of.g1",), "person")]
    assert a.brief == a.prompt == "a red circle to the left of a green circle, yellow background"
    update = apply({"checklist": CHECKLIST}, a)
    # In place of what they replace; new ids, so an earlier image's verdict is never read as the new one's.
    assert texts(update["checklist"]) == ["a red circle", "a green circle", "the red circle is left of the green circle",
                                          "yellow background"]
    assert not {r["id"] for r in update["checklist"]} & {"g1.object", "g0.left_of.g1"}
    assert (update["brief"], update["checklist_version"]) == (a.brief, 1)


def test_the_replacement_keeps_the_old_objects_place_and_size_unless_the_request_says_otherwise():
    brief = "a small red circle at top left and a large blue square at bottom right"
    from tools.shapes.parse import parse_brief

    checklist = [r.model_dump(mode="json") for r in parse_brief(brief).requirements()]
    a = read_edit(checklist, brief, "a green triangle", "region", ["g1.object", "g1.size", "g1.position"], 0).amendment
    assert a.brief == "a small red circle at top left and a large green triangle at bottom right"
    a = read_edit(checklist, brief, "a small green triangle", "region", ["g1.object"], 0).amendment
    assert a.brief == "a small red circle at top left and a small green triangle at bottom right"


def test_a_new_object_where_nothing_was_lost_joins_the_brief():
    read = read_edit(CHECKLIST, TEXT, "a green circle", "region", [], 0)
    assert read.question is None
    assert [(r.text, r.replaces) for r in read.amendment.added] == [("a green circle", ())]
    assert read.amendment.brief == "a red circle to the left of a blue square and a green circle, yellow background"


def test_a_request_for_what_the_brief_has_changes_nothing_unless_it_broke_something_then_it_asks():
    assert read_edit(CHECKLIST, TEXT, "a red circle", "region", [], 0).amendment is None
    read = read_edit(CHECKLIST, TEXT, "a red circle", "region", ["g0.left_of.g1"], 0, origin="n1")
    assert read.question == "keep “the red circle is left of the blue square”?" and "back to n1" in read.detail
    # Keeping the change lets the broken requirement go; nothing is added in its place.
    assert [r.id for r in read.amendment.replaced] == ["g0.left_of.g1"] and read.amendment.added == []
    assert texts(apply({"checklist": CHECKLIST}, read.amendment)["checklist"]) == [
        "a red circle", "a blue square", "yellow background"]


def test_ambiguous_edits_ask_one_question_instead_of_guessing():
    both = read_edit(CHECKLIST, TEXT, "a green circle", "region", ["g0.object", "g1.object"], 0)
    assert both.question == "keep “a red circle”, “a blue square”?"  # which one it replaced is theirs to say
    unsaid = read_edit(CHECKLIST, TEXT, None, "region", ["g1.object"], 0)  # the words were left to the agent
    assert unsaid.question == "keep “a blue square”?"
    # Letting the square go lets go of what is said about it; new images are drawn without it.
    assert [r.id for r in unsaid.amendment.replaced] == ["g1.object", "g0.left_of.g1"]
    assert unsaid.amendment.prompt == "a red circle, yellow background" and unsaid.amendment.brief is None
    assert texts(apply({"checklist": CHECKLIST, "brief": TEXT}, unsaid.amendment)["checklist"]) == [
        "a red circle", "yellow background"]
    free = read_edit([{"id": "r1", "text": "a cat on a mat", "kind": "object"}], "a cat on a mat", "a dog", "region",
                     ["r1"], 0, proposed=[])
    assert free.question == "keep “a cat on a mat”?"  # a free-form brief: nothing says which requirement it replaces


def test_feedback_that_restates_the_brief_becomes_the_brief():
    a = read_edit(CHECKLIST, TEXT, "a red circle to the right of a blue square", "feedback",
                  ["g0.left_of.g1"], 0).amendment
    assert [(r.text, r.replaces) for r in a.added] == [("the red circle is right of the blue square", ("g0.left_of.g1",))]
    assert a.brief == "a red circle to the right of a blue square, yellow background"  # the background kept


def test_free_text_the_critic_can_check_joins_the_brief_by_the_critics_reading():
    from agent.contracts import Requirement

    proposed = [Requirement(id="feedback1", text="a hat on the cat")]
    a = read_edit([{"id": "r1", "text": "a cat", "kind": "object"}], "a cat", "a hat on the cat", "region", [], 2,
                  proposed=proposed).amendment
    assert [(r.id, r.amended_by) for r in a.added] == [("feedback1@3", "person")] and a.version == 3


def test_an_image_judged_before_the_brief_changed_is_stale():
    nodes = {"n1": {"id": "n1", "critique": {"score": 1.0}}, "n2": {"id": "n2", "critique": {"score": 1.0},
                                                                     "judged_on": 1}}
    assert stale(nodes["n1"], {"checklist_version": 1}) and not stale(nodes["n2"], {"checklist_version": 1})
    assert not stale(Tree(nodes)["n1"], {})  # nobody changed the brief
