"""What the decision rules are given: their thresholds (PolicyConfig) and the run's budget.

Both are part of the run's spec (run.json); an unknown or out-of-range value is an error that
names the key. Tool settings (mask padding, feathering) are not here: they live with the engine's
settings in agent/spec.py.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # All requirements pass and the score reaches this. An exact critic scores an all-pass image 1.0;
    # a model critic may mark one down for visible flaws, and below this the agent polishes.
    accept_score: float = Field(0.8, ge=0, le=1)
    near_miss: float = Field(0.75, ge=0, le=1)  # score from which a failure with no region is a near miss
    variations_n: int = Field(3, ge=1)
    variation_strength: float = Field(0.35, gt=0, le=1)
    rebuild_strength: float = Field(0.8, gt=0, le=1)
    strength_step: float = Field(0.15, gt=0, lt=1)
    min_strength: float = Field(0.2, gt=0, le=1)
    max_strength: float = Field(0.95, gt=0, le=1)
    max_region_area: float = Field(0.5, gt=0, le=1)  # fixes covering more of the image than this are not local
    local_min_score: float = Field(0.34, ge=0, le=1)  # below this too little holds for a local fix to build on
    # An action that made no progress is not repeated at that node with a new seed only (a repaint of
    # the same regions mostly fails the same way); img2img and variations get kind_retries tries there,
    # each at the strength the last one taught (policy/strength.py).
    retries: int = Field(1, ge=1)
    kind_retries: int = Field(2, ge=1)
    plateau_k: int = Field(5, ge=1)  # steps without a better node that make a plateau
    stagnation_k: int = Field(3, ge=1)  # backtrack after this many steps below the best node
    inpaint_strength: float = Field(1.0, gt=0, le=1)  # a region repainted from noise
    # Prime an inpaint region with the colours its prompt names (tools/engine/guides.py), then
    # denoise at this strength: a checkpoint without an inpainting UNet otherwise tends to leave it empty.
    inpaint_guide: bool = True
    guided_inpaint_strength: float = Field(0.5, gt=0, le=1)
    max_critic_failures: int = Field(2, ge=1)  # unusable critiques in a row that stop the run
    # Share of pixels outside its mask an inpaint may change before it counts as drift.
    outside_tolerance: float = Field(0.001, ge=0, le=1)
    # Mean pixel change below which an edit "changed too little" (its strength goes up).
    small_change: float = Field(0.02, ge=0, le=1)
    # Take the critic's own recommended action (validated by these rules) before the rules' choice.
    # Off by default: the rules are the policy; a VLM's advice is an option, not the default.
    follow_critic: bool = False
    # A run from the person's own picture never ends on an image that does not descend from it: no
    # fresh image (txt2img) there unless the person allows it (--allow-fresh, the studio's checkbox).
    allow_fresh: bool = False

    # -- a critic that can be wrong (every model critic; not the exact shapes critic) --------------
    # Confirm before accepting: an image the critic passes is redrawn lightly (a witness at
    # witness_strength, which keeps everything) and judged again; a model judge's mistakes on one
    # image do not carry over to another, so two passes rarely both lie.
    confirm_accept: bool = True
    witness_strength: float = Field(0.25, gt=0, le=1)
    max_witnesses: int = Field(2, ge=1)  # two witnesses and the image itself: a majority of three
    # A witness that changed more than this share of the pixels votes with less weight (policy/witness.py).
    weigh_witnesses: bool = True
    witness_quiet: float = Field(0.10, gt=0, le=1)
    # Check a lone failure the same way before repairing it (an image that fails one requirement is
    # often right and its judge wrong). Off: measured, the extra looks cost more images than the
    # repairs of right images they spare (README, "Benchmark results").
    confirm_failure: bool = False
    # Check a claimed loss against the pixels: a repaint cannot lose what it did not touch.
    doubt_drift: bool = True
    # ... and a second look: a requirement about objects that stood where no pixel changed was not lost.
    second_look: bool = True
    global_change_min: float = Field(0.25, ge=0, le=1)  # changed share of the image that can alter a background

    # -- spending the budget where it buys most (any critic) -----------------------------------------
    # Unproductive edits (no progress, or drift) an image gets before the agent samples afresh.
    edits_per_node: int = Field(3, ge=1)
    # A rebuild (img2img at rebuild_strength) keeps the layout, so it is not offered for failures of
    # where things are, how many, or how big: those go to a repaint or a fresh sample.
    rebuild_layout: bool = False

    # -- where things are (policy/layout.py, policy/moves.py) -----------------------------------
    # Plan the whole scene's layout when positions or relations fail, and move toward it.
    plan_layout: bool = True
    # A move repaints both places at once (1) or the new place first, then the old copy away (2).
    move_steps: int = Field(1, ge=1, le=2)
    # Repaints keep the boxes of the other objects the critic found out of their masks.
    spare_neighbours: bool = True
    # A fresh sample starts from a rewritten prompt, from a prompt that says where each object of a
    # planned layout goes ("layout_prompt"), or from a sketch of that layout ("sketch", an img2img
    # at sketch_strength).
    fresh_from: Literal["prompt", "layout_prompt", "sketch"] = "prompt"
    sketch_strength: float = Field(0.85, gt=0, le=1)

    @model_validator(mode="after")
    def _strength_range(self) -> "PolicyConfig":
        if self.min_strength > self.max_strength:
            raise ValueError(f"min_strength {self.min_strength} is above max_strength {self.max_strength}")
        return self


# The most images one run may be given: a typo (an extra zero or six) is refused, not spent overnight.
MAX_IMAGES = 10_000


class Budget(BaseModel):
    """What a run may spend; None means no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    generations: int | None = Field(8, gt=0, le=MAX_IMAGES)  # images (a batch of n variations counts n)
    seconds: float | None = Field(None, gt=0)  # wall time
    usd: float | None = Field(None, gt=0)  # critic dollars
    tokens: int | None = Field(None, gt=0)  # critic tokens

    def limits(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}
