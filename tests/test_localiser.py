"""Localisers: boxes from open-vocabulary detectors and <loc> tokens, and what they mean for a
critique (objects, and regions for failures, through the shapes world's own geometry)."""
from __future__ import annotations

import pytest

from agent.components import critic_for
from agent.contracts import Critique, Usage, Verdict
from agent.critics.localised import LocalisedCritic, localise
from agent.critics.localiser import make_localiser
from agent.critics.registry import make_critic
from agent.vlm.hf_detector import Detector
from agent.vlm.loc_tokens import parse_locations
from agent.vlm.regions import Found
from tests.fake_vlm_world import shapes_scene
from tests.tiny_vlms import DETECTORS
from tools.contracts import Region, Requirement
from tools.errors import InputError
from tools.shapes.parse import parse_brief

BRIEF = "a red circle to the left of a blue square, white background"


class Boxes:
    """A localiser answering from a fixed table: where a trained detector would have looked (the
    tiny detectors here have random weights, so their boxes are noise)."""

    name = "fixed"

    def __init__(self, table: dict[str, list[tuple[float, float, float, float]]]):
        self.table = table
        self.asked: list[list[str]] = []

    def locate(self, image, labels):
        self.asked.append(list(labels))
        return ({label: [Found(Region(x0=b[0], y0=b[1], x1=b[2], y1=b[3]), 0.9) for b in self.table.get(label, [])]
                 for label in labels}, Usage(calls=1))


def _critique(checklist, failed: set[str]) -> Critique:
    verdicts = [Verdict(id=r.id, passed=r.id not in failed) for r in checklist]
    return Critique(verdicts=verdicts, score=1 - len(failed) / len(checklist), critic="vqa")


def test_a_misplaced_object_gets_the_place_the_brief_gives_it_relative_to_the_others():
    checklist = parse_brief(BRIEF).requirements()
    relation = next(r.id for r in checklist if r.kind == "relation")
    # The circle is right of the square: the critic fails the relation, the localiser finds both.
    boxes = Boxes({"red circle": [(0.7, 0.4, 0.9, 0.6)], "blue square": [(0.1, 0.4, 0.3, 0.6)]})
    crit = localise(_critique(checklist, {relation}), None, BRIEF, checklist, boxes)
    region = crit.verdict(relation).region
    assert region is not None and region.source == "localiser"
    assert region.center[0] < 0.2 + 0.1  # where the circle belongs: left of the square's centre (0.2)
    kinds = {d.kind for d in crit.defects}
    assert kinds == {"remove", "add"} and all(d.region.source == "localiser" for d in crit.defects)
    removal = next(d for d in crit.defects if d.kind == "remove")
    assert removal.region.center[0] > 0.7  # the circle where it is now is painted out
    assert boxes.asked == [["red circle", "blue square"]]
    assert {(o.label, o.group, o.source) for o in crit.objects} == {("red circle", "g0", "localiser"),
                                                                   ("blue square", "g1", "localiser")}
    assert crit.usage.calls == 1 and all(v.region is None for v in crit.verdicts if v.passed)


def test_a_missing_object_is_placed_beside_the_one_found_and_a_failed_colour_repaints_its_box():
    checklist = parse_brief(BRIEF).requirements()
    circle = next(r.id for r in checklist if r.id == "g0.object")
    crit = localise(_critique(checklist, {circle}), None, BRIEF, checklist,
                    Boxes({"blue square": [(0.6, 0.4, 0.8, 0.6)]}))
    region = crit.verdict(circle).region
    assert region.center[0] < 0.6 and abs(region.center[1] - 0.5) < 0.1  # to the left of the square
    assert next(d for d in crit.defects if circle in d.requirement_ids).kind == "add"
    # The boxes would pass the circle, the critic does not (its colour, its shape): repaint the box found.
    crit = localise(_critique(checklist, {circle}), None, BRIEF, checklist,
                    Boxes({"red circle": [(0.1, 0.1, 0.3, 0.3)], "blue square": [(0.6, 0.4, 0.8, 0.6)]}))
    region = crit.verdict(circle).region
    assert region.x0 < 0.1 < 0.3 < region.x1 and region.source == "localiser"


def test_free_form_briefs_get_the_box_of_the_object_and_no_region_for_one_not_found():
    checklist = [Requirement(id="r1", text="a cat", kind="object", group="cat"),
                 Requirement(id="r2", text="the sofa is red", kind="attribute", group="sofa"),
                 Requirement(id="r3", text="watercolour", kind="style")]
    crit = localise(_critique(checklist, {"r1", "r2"}), None, "a cat on a red sofa, watercolour", checklist,
                    Boxes({"sofa": [(0.0, 0.5, 1.0, 1.0)]}))
    assert crit.verdict("r1").region is None  # no cat found: nothing to point at
    assert crit.verdict("r2").region.as_tuple() == (0.0, 0.5, 1.0, 1.0)
    assert [o.label for o in crit.objects] == ["sofa"]
    assert [d.requirement_ids for d in crit.defects] == [["r2"]]


def test_overlapping_boxes_of_one_object_count_once():
    checklist = parse_brief("a red circle, white background").requirements()
    crit = localise(_critique(checklist, set()), None, "a red circle, white background", checklist,
                    Boxes({"red circle": [(0.1, 0.1, 0.4, 0.4), (0.12, 0.1, 0.41, 0.4), (0.6, 0.6, 0.9, 0.9)]}))
    assert len(crit.objects) == 2


def test_loc_tokens_are_read_as_boxes():
    text = "<loc0256><loc0128><loc0768><loc0512> red circle ; <loc0000><loc0512><loc1023><loc1023> blue square<eos>"
    (a, ra), (b, rb) = parse_locations(text)
    assert (a, b) == ("red circle", "blue square")
    assert ra.as_tuple() == (0.125, 0.25, 0.5, 0.75)  # y0 x0 y1 x1, in 1024ths
    assert rb.x0 == 0.5 and rb.y0 == 0.0 and rb.x1 == pytest.approx(1023 / 1024)
    assert parse_locations("no boxes here <loc0001>") == []


def test_a_box_starts_when_the_locations_together_are_likelier_and_each_edge_is_their_median():
    import torch

    from agent.vlm.loc_tokens import LocationDecoding
    from tools.shapes.vlm_model import TINY, build_processor

    tok = build_processor(TINY).tokenizer
    loc = lambda i: tok.convert_tokens_to_ids(f"<loc{i:04d}>")  # noqa: E731
    none, prompt = tok.convert_tokens_to_ids("none"), [tok.bos_token_id, 7]
    decoding = LocationDecoding(tok, prompt_length=len(prompt))

    def logits(spread: dict[int, float]) -> torch.Tensor:
        p = torch.full((len(tok),), 1e-9)
        for token, share in spread.items():
            p[token] = share
        return p.log()[None]

    def pick(answer: list[int], spread: dict[int, float]) -> int:
        return int(decoding(torch.tensor([prompt + answer]), logits(spread)).argmax())

    # "none" is the likeliest single token (0.3), but the locations hold 0.7 between them: a box
    # starts, at the median of their spread (greedy decoding would have said "none").
    spread = {none: 0.3, loc(100): 0.2, loc(110): 0.2, loc(120): 0.1, loc(300): 0.2}
    assert pick([], spread) == loc(110)
    # Spread the other way round, nothing is there, and no location may be written.
    assert pick([], {none: 0.6, loc(100): 0.2, loc(110): 0.2}) == none
    # Inside a box the next edge is always a location, even where a word is likelier...
    assert pick([loc(110)], {none: 0.9, loc(500): 0.04, loc(600): 0.06}) == loc(600)
    # ...and after four the label follows as the model says.
    word = tok.convert_tokens_to_ids("\u2581red")
    assert pick([loc(1), loc(2), loc(3), loc(4)], {word: 0.6, loc(9): 0.4}) == word
    # After " ; " another box may start, by the same rule.
    sep = tok(" ; ", add_special_tokens=False)["input_ids"]
    assert pick([loc(1), loc(2), loc(3), loc(4), word, *sep], spread) == loc(110)


@pytest.mark.parametrize("family", DETECTORS)
def test_detectors_localise_a_critique_through_the_hf_spec(tiny_vlm_dir, tiny_detector_dir, family):
    brief, image, checklist = shapes_scene(seed=5, n_objects=2, match=False)
    localiser = make_localiser(f"hf:{tiny_detector_dir(family)}")
    assert isinstance(localiser, Detector)
    found, usage = localiser.locate(image, ["red circle", "blue square"])
    assert set(found) == {"red circle", "blue square"} and usage.calls == 1
    critic = critic_for(f"hf:{tiny_vlm_dir('llava')}", {}, f"hf:{tiny_detector_dir(family)}")
    assert isinstance(critic, LocalisedCritic) and critic.describe()["localiser"].endswith(family)
    crit = critic.critique(image, brief, checklist)
    labels = {g.model_copy(update={"count": 1}).noun() for g in parse_brief(brief).groups}
    assert all(o.source == "localiser" and o.label in labels for o in crit.objects)
    assert all(v.region.source == "localiser" for v in crit.verdicts if v.region)
    plain = make_critic(f"hf:{tiny_vlm_dir('llava')}").critique(image, brief, checklist)
    assert [v.passed for v in crit.verdicts] == [v.passed for v in plain.verdicts]  # places, never verdicts
    assert crit.usage.calls == plain.usage.calls + 1


def test_a_localiser_must_be_able_to_localise(tiny_vlm_dir, tiny_detector_dir):
    with pytest.raises(InputError, match="without <loc0000>"):
        make_localiser(f"hf:{tiny_vlm_dir('llava')}")
    with pytest.raises(InputError, match="--localiser takes hf:PATH_OR_ID"):
        make_localiser(f"owl:{tiny_detector_dir('owlv2')}")
    pali = make_critic(f"hf:{tiny_vlm_dir('paligemma')}")
    assert pali.localiser is not None
    # A localiser named on the command line takes over from the critic's own loc tokens.
    wrapped = critic_for(f"hf:{tiny_vlm_dir('paligemma')}", {}, f"hf:{tiny_detector_dir('owlv2')}")
    assert wrapped.inner.localiser is None and isinstance(wrapped.localiser, Detector)
