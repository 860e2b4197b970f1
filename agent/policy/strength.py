"""How strong an edit is: every strength the agent uses is chosen here.

- variations start low (``variation_strength``: they keep structure and layout), a rebuild by
  img2img high (``rebuild_strength``: it keeps only the broad layout and colours);
- each node remembers the strength per kind that worked least badly there: down by
  ``strength_step`` when an edit broke what was right (drift), up when it changed too little;
- an inpaint's strength follows from its prompt: a region primed with the colours the prompt names
  (its *guide*, read here from the prompt's words; the engine only lays it down) is denoised at
  ``guided_inpaint_strength`` (high enough to draw the shape, low enough to keep the colour and
  place); an unprimed region is repainted from noise at ``inpaint_strength``.
Always clamped to [min_strength, max_strength] for img2img and variations, and never so low that
the sampler runs no denoising step at all (diffusers runs int(steps x strength) of them).
"""
from __future__ import annotations

import math
import re

from agent.contracts import Action
from tools.engine.guides import COLOUR_NAMES, SURROUNDINGS
from agent.policy.config import PolicyConfig
from agent.tree import TreeNode


def runnable(strength: float, steps: int | None) -> float:
    """The strength raised, if needed, to the lowest that runs one denoising step at ``steps``."""
    if not steps or int(steps * strength + 1e-9) >= 1:
        return strength
    return min(1.0, math.ceil(100 / steps) / 100)


def clamp(strength: float, cfg: PolicyConfig) -> float:
    return round(min(cfg.max_strength, max(cfg.min_strength, strength)), 2)


def default(kind: str, cfg: PolicyConfig) -> float:
    return cfg.variation_strength if kind == "variations" else cfg.rebuild_strength


def for_edit(node: TreeNode, kind: str, cfg: PolicyConfig) -> float:
    """The strength of the next img2img or variations at ``node``: its adapted value, else the default."""
    return clamp(node.strengths.get(kind, default(kind, cfg)), cfg)


def provisional_inpaint(cfg: PolicyConfig) -> float:
    """An inpaint's strength before its region prompt is written (the guided one, where guides are on)."""
    return cfg.guided_inpaint_strength if cfg.inpaint_guide else cfg.inpaint_strength


def complete_inpaint(action: Action, cfg: PolicyConfig, steps: int | None = None) -> Action:
    """The inpaint with its final strength and colour guide, once its prompt is known (``steps``:
    the sampler's, below which the strength may not go)."""
    single = len(action.regions) == 1
    guide = guide_from_prompt(action.prompt or "", None if single else action.regions[0]) if cfg.inpaint_guide else None
    strength = cfg.guided_inpaint_strength if guide is not None else cfg.inpaint_strength
    return action.model_copy(update={"strength": runnable(strength, steps), "guide": guide})


def after_drift(node: TreeNode, action: Action, cfg: PolicyConfig) -> dict[str, float]:
    """It broke what was right: the next try of this kind at this node changes less."""
    strengths = dict(node.strengths)
    if action.strength is not None and action.kind in ("img2img", "variations"):
        strengths[action.kind] = round(action.strength - cfg.strength_step, 2)
    return strengths


def after_small_change(node: TreeNode, action: Action, change: float | None,
                       cfg: PolicyConfig) -> tuple[dict[str, float], str]:
    """It changed too little to matter: the next try of this kind at this node changes more.
    Returns the node's strengths and what to add to the reason ("" when nothing changed)."""
    strengths = dict(node.strengths)
    measured = 1.0 if change is None else change
    if not action.fresh and action.kind in ("img2img", "variations") and measured < cfg.small_change:
        strengths[action.kind] = round((action.strength or cfg.variation_strength) + cfg.strength_step, 2)
        return strengths, f"; the image changed only {measured:.1%}, so the strength goes up"
    return strengths, ""


def for_person_vary(asked: float | None, cfg: PolicyConfig) -> float:
    """Variations a person asked for: their strength, else the policy's."""
    return asked if asked is not None else cfg.variation_strength


def for_feedback(cfg: PolicyConfig) -> float:
    """A rebuild from a person's feedback: strong enough to carry the rewritten prompt."""
    return cfg.rebuild_strength


# -- an inpaint's guide, from its prompt -----------------------------------------------------------
# Blob side as a share of the region's side. A region is a grid cell or an object's box with a
# margin around it; a blob much smaller than the object it stands for gets painted over as noise.
SIZE_WORDS = {"small": 0.55, "tiny": 0.5, "little": 0.55, "large": 0.85, "big": 0.85, "huge": 0.9}
DEFAULT_SIZE = 0.7
_WORD = re.compile(r"[a-z]+")


def guide_from_prompt(prompt: str, box: Region | None = None) -> dict | None:
    """The guide an inpaint prompt implies, or None when it names no colour.

    "a small red circle at top left, yellow background" -> the region is filled with the colour just
    around it (the background, wherever an object is to be added or removed), and a red blob sized
    for a small object sits in it. Colour words are the CSS names (mapped to the model's own palette
    when it ships one); a colour followed by "background" names the background."""
    words = _WORD.findall(prompt.lower())
    colour = background = None
    size = DEFAULT_SIZE
    for i, w in enumerate(words):
        if w in COLOUR_NAMES:
            if i + 1 < len(words) and words[i + 1] in ("background", "backdrop"):
                background = background or w
            elif colour is None:
                colour = w
        elif w in SIZE_WORDS and colour is None:
            size = SIZE_WORDS[w]
    if colour is None and background is None:
        return None
    # The surroundings, not the named background: they are what the region must blend into, and a
    # failing background is a global fix, never an inpaint.
    guide: dict = {"size": size, "background": SURROUNDINGS}
    if colour:
        guide["colour"] = colour
    if box is not None and colour:
        guide["box"] = list(box.as_tuple())
    return guide
