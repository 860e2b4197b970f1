"""Colour guides: what a region prompt implies, and what gets painted where."""
from __future__ import annotations

import numpy as np
from PIL import Image

from agent.policy.strength import guide_from_prompt
from tools.contracts import Region
from tools.engine.guides import apply_guide, as_guide
from tools.engine.masks import region_mask


def test_prompt_names_object_colour_size_and_background():
    # The region is filled from its surroundings (what it must blend into), then the blob goes in.
    assert guide_from_prompt("a small red circle at top left, yellow background") == \
        {"size": 0.55, "colour": "red", "background": "surroundings"}
    assert guide_from_prompt("two large navy squares") == {"size": 0.85, "colour": "navy", "background": "surroundings"}
    assert guide_from_prompt("yellow background") == {"size": 0.7, "background": "surroundings"}  # a removal: fill only
    assert guide_from_prompt("a dog on a sofa") is None  # no colour named: repaint from noise


def test_box_is_kept_only_when_there_is_an_object_to_place():
    box = Region(x0=0.0, y0=0.3, x1=0.3, y1=0.6)
    assert guide_from_prompt("a red circle", box)["box"] == [0.0, 0.3, 0.3, 0.6]
    assert "box" not in guide_from_prompt("white background", box)


def test_apply_guide_paints_inside_the_mask_only():
    image = Image.new("RGB", (60, 60), (10, 20, 30))
    mask = region_mask(Region(x0=0.0, y0=0.0, x1=0.5, y1=0.5), image.size)
    out = np.asarray(apply_guide(image, mask, as_guide({"colour": "red", "background": "white", "size": 0.5})))
    assert tuple(out[15, 15]) == (255, 0, 0)  # blob at the centre of the masked box
    assert tuple(out[1, 1]) == (255, 255, 255)  # background fills the rest of the mask
    assert (out[30:, :] == (10, 20, 30)).all() and (out[:, 30:] == (10, 20, 30)).all()  # outside untouched


def test_surroundings_fill_and_the_models_palette():
    image = Image.new("RGB", (40, 40), (200, 100, 0))
    image.paste((0, 0, 255), (0, 0, 12, 12))  # an object inside the mask, to be painted over
    mask = region_mask(Region(x0=0.0, y0=0.0, x1=0.5, y1=0.5), image.size)
    guide = as_guide({"colour": "red", "background": "surroundings", "size": 0.4})
    out = np.asarray(apply_guide(image, mask, guide, palette={"red": (220, 40, 40)}))
    assert tuple(out[1, 1]) == (200, 100, 0)  # the old object is gone under the surroundings' colour
    assert tuple(out[10, 10]) == (220, 40, 40)  # the model's red, not CSS red


def test_blob_centres_on_the_given_box_and_is_clipped_to_the_mask():
    image = Image.new("RGB", (60, 60), (0, 0, 0))
    mask = Image.new("L", image.size, 0)
    mask.paste(255, (0, 0, 30, 60))  # left half
    out = np.asarray(apply_guide(image, mask, as_guide({"colour": "lime", "box": [0.2, 0.6, 0.8, 1.0]})))
    assert tuple(out[48, 20]) == (0, 255, 0)
    assert (out[:, 30:] == 0).all()  # the half of the blob outside the mask is not drawn
    assert (out[:30, :] == 0).all()
