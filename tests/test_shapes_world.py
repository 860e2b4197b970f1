"""The shapes world: grammar, parser errors, renderer-versus-detector agreement, checker regions."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tools.contracts import Region
from tools.errors import BriefError, LayoutError
from tools.shapes.check import check
from tools.shapes.detect import detect
from tools.shapes.parse import parse_brief
from tools.shapes.render import Placement, Scene, draw, render
from tools.shapes.sample import benchmark_briefs, random_brief
from tools.shapes.vocab import COLOURS, SHAPES, cell_box, cell_of


# -- grammar and parser ---------------------------------------------------------------------------
def test_the_example_brief_becomes_atomic_requirements():
    b = parse_brief("two small red circles above a large blue square, yellow background")
    assert [(g.count, g.size, g.colour, g.shape) for g in b.groups] == [(2, "small", "red", "circle"),
                                                                        (1, "large", "blue", "square")]
    assert b.links == ["above"] and b.background == "yellow"
    assert [(r.id, r.kind, r.text) for r in b.requirements()] == [
        ("g0.count", "count", "exactly two red circles"),
        ("g0.size", "size", "the red circles are small"),
        ("g1.object", "object", "a blue square"),
        ("g1.size", "size", "the blue square is large"),
        ("g0.above.g1", "relation", "the red circles are above the blue square"),
        ("background", "background", "yellow background"),
    ]


@pytest.mark.parametrize("text,canonical", [
    ("A big violet rhombus in the middle.", "a large purple diamond at center"),
    ("an orange circle on the left of a green triangle at the bottom right corner",
     "an orange circle to the left of a green triangle at bottom right"),
    ("a red square at bottom right of a blue circle", "a red square at bottom to the right of a blue circle"),
    ("2 tiny black triangles under a white square on a red background",
     "two small black triangles below a white square, red background"),
    ("a yellow circle at the top left of the image with a blue background",
     "a yellow circle at top left, blue background"),
])
def test_synonyms_and_phrasings_normalise(text, canonical):
    assert parse_brief(text).text() == canonical


def test_canonical_text_round_trips_for_random_briefs():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        b = random_brief(rng, int(rng.integers(1, 4)))
        assert parse_brief(b.text()) == b


@pytest.mark.parametrize("text,quoted,why", [
    ("a purple elephant", "elephant", "expected a shape"),
    ("red circles", "circles", "say how many"),
    ("a red circle left a blue square", "left a blue", "expected 'and' or a relation"),
    ("four red circles", "four", "at most three"),
    ("a red circle, yellow background and a square", "and a square", "background should come last"),
    ("a red circle @ top", "@ top", "unexpected character"),
])
def test_bad_briefs_quote_what_could_not_be_read(text, quoted, why):
    with pytest.raises(BriefError) as err:
        parse_brief(text)
    msg = str(err.value)
    assert f'"{quoted}' in msg and why in msg
    assert "circle, square, triangle, diamond" in msg and "red, orange" in msg  # the vocabulary is listed


@pytest.mark.parametrize("text,why", [
    ("", "empty"),
    ("a red circle, red background", "invisible"),
    ("a red circle and a red circle", "same kind of object"),
    ("two red circles and two blue squares", "at most 3"),
])
def test_briefs_that_cannot_be_pictured_are_refused(text, why):
    with pytest.raises(BriefError, match=why):
        parse_brief(text)


def test_random_briefs_are_seeded_and_respect_difficulty():
    a = [b.text() for b in benchmark_briefs(7, 20, 2)]
    assert a == [b.text() for b in benchmark_briefs(7, 20, 2)]
    assert a != [b.text() for b in benchmark_briefs(8, 20, 2)]
    for n in (1, 2, 3):
        assert all(b.n_objects == n for b in benchmark_briefs(1, 30, n))
    rng = np.random.default_rng(3)
    plain = [random_brief(rng, 3, relations=False, counts=False) for _ in range(50)]
    assert all(all(link is None for link in b.links) and all(g.count == 1 for g in b.groups) for b in plain)
    assert any(any(b.links) for b in benchmark_briefs(1, 30, 3))  # relations do occur by default


# -- renderer and detector ------------------------------------------------------------------------
def test_renders_satisfy_their_briefs_by_the_detector():
    rng = np.random.default_rng(11)
    total = passed = 0
    for _ in range(300):
        b = random_brief(rng, int(rng.integers(1, 4)))
        image, scene = render(b, rng)
        assert image.size == (64, 64) and image.mode == "RGB"
        res = check(b, b.requirements(), detect(image))
        total += len(res.results)
        passed += sum(r.passed for r in res.results)
        found = sorted((o.colour, o.shape, o.size) for o in detect(image).objects)
        assert found == sorted((o.colour, o.shape, o.size) for o in scene.objects)
    assert passed == total


def test_rendering_is_anti_aliased_and_seeded():
    b = parse_brief("a large red circle, white background")
    a, _ = render(b, np.random.default_rng(4))
    c, _ = render(b, np.random.default_rng(4))
    assert np.array_equal(np.asarray(a), np.asarray(c))
    colours = {tuple(p) for p in np.asarray(a).reshape(-1, 3)}
    assert len(colours) > 2  # edge pixels mix the two colours


def test_rendering_works_at_other_resolutions():
    b = parse_brief("a small green triangle to the left of a large blue diamond, yellow background")
    image, scene = render(b, np.random.default_rng(2), size=128)
    res = check(b, b.requirements(), detect(image))
    assert image.size == (128, 128) and res.all_passed


def test_contradictory_brief_has_no_layout():
    b = parse_brief("a red circle at left to the right of a blue square at right")
    with pytest.raises(LayoutError, match="no layout satisfies"):
        render(b, np.random.default_rng(0))


@pytest.mark.parametrize("blur,noise,tint", [(0.8, 4, 8), (1.0, 6, 12)])
def test_detector_survives_blur_noise_and_tint(blur, noise, tint):
    rng = np.random.default_rng(21)
    ok = 0
    for _ in range(150):
        b = random_brief(rng, int(rng.integers(1, 4)))
        image, scene = render(b, rng)
        arr = np.asarray(image.filter(ImageFilter.GaussianBlur(blur)), float)
        arr = arr + rng.normal(0, noise, arr.shape) + rng.normal(0, tint, 3)
        found = detect(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
        ok += sorted((o.colour, o.shape, o.size) for o in found.objects) == \
            sorted((o.colour, o.shape, o.size) for o in scene.objects) and found.background == scene.background
    assert ok / 150 >= 0.95


# -- checker: failures and where their fixes belong ------------------------------------------------
def planted(brief: str, objects: list[tuple], background: str = "yellow"):
    b = parse_brief(brief)
    scene = Scene(background, tuple(Placement(0, c, s, "large" if side > 0.23 else "small", side, x, y)
                                    for c, s, side, x, y in objects))
    return b, check(b, b.requirements(), detect(draw(scene)))


def result(res, rid):
    return next(r for r in res.results if r.id == rid)


def test_wrong_colour_points_at_the_wrong_object():
    b, res = planted("a red circle to the left of a blue square, yellow background",
                     [("green", "circle", 0.3, 0.2, 0.5), ("blue", "square", 0.3, 0.75, 0.5)])
    r = result(res, "g0.object")
    assert not r.passed and "green circle" in r.evidence
    assert r.region.x0 <= 0.05 and r.region.x1 >= 0.35 and r.region.y0 <= 0.35 and r.region.y1 >= 0.65
    d = next(d for d in res.defects if "g0.object" in d.requirement_ids)
    assert d.kind == "replace" and d.region == r.region


def test_missing_object_gets_a_region_where_it_should_go():
    b, res = planted("a red circle at top right and a blue square, yellow background",
                     [("blue", "square", 0.3, 0.25, 0.75)])
    r = result(res, "g0.object")
    assert not r.passed and r.region is not None
    assert cell_of(*r.region.center) == "top right"
    assert next(d for d in res.defects if "g0.object" in d.requirement_ids).kind == "add"
    # The missing object's position cannot be checked, and says so, rather than passing.
    assert not result(res, "g0.position").passed


def test_relation_failure_moves_the_subject_next_to_the_object():
    b, res = planted("a red circle to the left of a blue square, yellow background",
                     [("red", "circle", 0.2, 0.8, 0.5), ("blue", "square", 0.2, 0.3, 0.5)])
    r = result(res, "g0.left_of.g1")
    assert not r.passed and r.region.center[0] < 0.3  # to the left of the square at x=0.3
    kinds = sorted(d.kind for d in res.defects)
    assert kinds == ["add", "remove"]
    remove = next(d for d in res.defects if d.kind == "remove")
    assert remove.region.center[0] > 0.7  # the red circle where it wrongly is


def test_wrong_position_and_wrong_size_and_surplus():
    b, res = planted("a small red circle at bottom left, yellow background",
                     [("red", "circle", 0.3, 0.8, 0.2)])
    assert not result(res, "g0.size").passed and not result(res, "g0.position").passed
    target = result(res, "g0.position").region
    x0, y0, x1, y1 = cell_box("bottom left")
    assert x0 <= target.center[0] <= x1 and y0 <= target.center[1] <= y1  # where the circle belongs
    assert target.x1 - target.x0 < 0.3  # sized for a small circle, not the whole cell


def test_regions_never_reach_over_another_object():
    # The circle must move to the bottom left cell, where a blue square already stands; and its
    # removal must not erase the green triangle right next to it.
    b, res = planted("a small red circle at bottom left and a blue square and a green triangle, yellow background",
                     [("red", "circle", 0.17, 0.5, 0.5), ("green", "triangle", 0.2, 0.72, 0.5),
                      ("blue", "square", 0.12, 0.07, 0.93)])
    remove = next(d for d in res.defects if d.kind == "remove")
    add = next(d for d in res.defects if d.kind == "add")
    triangle_left = 0.72 - 0.1
    square_box = (0.01, 0.87, 0.13, 0.99)
    assert remove.region.x1 <= triangle_left + 1e-6 and remove.region.x0 < 0.5 - 0.085
    assert not (add.region.x0 < square_box[2] and square_box[0] < add.region.x1
                and add.region.y0 < square_box[3] and square_box[1] < add.region.y1)
    b, res = planted("two red circles, yellow background",
                     [("red", "circle", 0.15, 0.2, 0.2), ("red", "circle", 0.15, 0.5, 0.5),
                      ("red", "circle", 0.15, 0.8, 0.8)])
    r = result(res, "g0.count")
    assert not r.passed and "found 3" in r.evidence
    assert next(d for d in res.defects if d.kind == "remove").region.area < 0.1


def test_background_checked_and_scores_are_fractions():
    b, res = planted("a red circle, blue background", [("red", "circle", 0.3, 0.5, 0.5)], background="white")
    assert not result(res, "background").passed and result(res, "g0.object").passed
    assert res.score == 0.5


def test_vocabulary_meets_the_minimums():
    assert len(COLOURS) >= 6 and len(SHAPES) >= 4 and "circle" in SHAPES and "triangle" in SHAPES
    assert Region(x0=0, y0=0, x1=0.5, y1=0.5).area == 0.25


def test_relation_fix_moves_the_object_that_can_move_to_a_free_place():
    from tools.shapes.check import check
    from tools.shapes.detect import DetectedObject, Detection

    # The orange square sits at the top: nothing fits above it, so the orange square moves below
    # the white one instead, to a place that overlaps neither object.
    white = DetectedObject("white", "square", "large", (0.10, 0.60, 0.40, 0.92), 0.09, 0.95)
    orange = DetectedObject("orange", "square", "small", (0.65, 0.12, 0.81, 0.28), 0.03, 0.95)
    b = parse_brief("a white square above an orange square, red background")
    res = check(b, b.requirements(), Detection("red", (white, orange)))
    remove, add = res.defects
    assert remove.kind == "remove" and remove.group == "g1" and add.kind == "add" and add.group == "g1"
    assert add.region.center[1] - white.center[1] > 0.1  # below the white square, with the margin
    for o in (white, orange):
        x0, y0, x1, y1 = o.box
        assert not (add.region.x0 < x1 and x0 < add.region.x1 and add.region.y0 < y1 and y0 < add.region.y1)
    # A subject whose position the brief pins stays put; the other object moves.
    b = parse_brief("a white square at bottom left above an orange square, red background")
    res = check(b, b.requirements(), Detection("red", (white, orange)))
    assert all(d.group == 1 for d in res.defects if d.requirement_ids == ("g0.above.g1",))
