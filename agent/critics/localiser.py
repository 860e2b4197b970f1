"""Localisers: what finds the objects a checklist names in an image, for critics that give no places.

VQAScore says whether a requirement holds, not where; an inpaint needs a where. A localiser answers
"where is the red circle?" with boxes. Spec ``hf:PATH_OR_ID`` (``--localiser``):

- an open-vocabulary detector (``AutoModelForZeroShotObjectDetection``: OWLv2, Grounding DINO,
  OmDet-Turbo), agent/vlm/hf_detector.py;
- a VLM whose tokenizer has PaliGemma's ``<loc0000>``..``<loc1023>`` tokens, asked ``detect
  {label}``, agent/vlm/loc_tokens.py (an ``hf:`` critic with such a model uses itself this way
  unless told ``localise=off``).

What the boxes mean for a critique (objects, regions of failing requirements) is
agent/critics/localised.py.
"""
from __future__ import annotations

from typing import Protocol

from PIL import Image

from agent.contracts import Usage
from agent.vlm.regions import Found
from tools.errors import InputError

USAGE = ("--localiser takes hf:PATH_OR_ID: an open-vocabulary detector (OWLv2, Grounding DINO) or a VLM with "
         "PaliGemma-style <loc> tokens")


class Localiser(Protocol):
    name: str

    def locate(self, image: Image.Image, labels: list[str]) -> tuple[dict[str, list[Found]], Usage]:
        """The boxes found for each label, surest first, and what finding them cost."""


def make_localiser(spec: str, device: str = "auto") -> Localiser:
    """The localiser a spec names; raises InputError for a spec or model that cannot localise, and
    ModelUnavailable when the model does not fit on the device."""
    from agent.vlm.hf_loading import IMAGE_TEXT_TO_TEXT, ZERO_SHOT_DETECTION, accepts, model_type_of

    prefix, _, name = (spec or "").strip().partition(":")
    if prefix != "hf" or not name:
        raise InputError(f"{USAGE}; got {spec!r}")
    model_type = model_type_of(name)
    if accepts(ZERO_SHOT_DETECTION, model_type):
        from agent.vlm.hf_detector import load_detector

        return load_detector(name, device)
    if accepts(IMAGE_TEXT_TO_TEXT, model_type):
        from agent.vlm.hf_vlm import load_vlm
        from agent.vlm.loc_tokens import LocTokenLocaliser

        vlm = load_vlm(name, device)
        if not vlm.has_loc_tokens:
            raise InputError(f"{name} is a VLM without <loc0000>..<loc1023> tokens, so it cannot say where things "
                             "are; a localiser is an open-vocabulary detector (OWLv2, Grounding DINO) or a "
                             "PaliGemma-style VLM")
        return LocTokenLocaliser(vlm)
    raise InputError(f"{name} is a {model_type!r} model, which finds no objects; {USAGE}")
