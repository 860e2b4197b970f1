"""A fallible critic: another critic's answers with mistakes a real vision-language judge makes.

Spec::

    noisy:RATE[,OPTION=VALUE...][:SPEC]

    noisy:0.2                           the exact shapes critic (scene), 20% of verdicts wrong
    noisy:0.1:scripted:run.json         any other critic spec after the second colon
    noisy:0.1,yes=0.7,near=2,seed=3:scene

RATE (0 to 1) is the expected share of requirement verdicts that are wrong. Options:

- ``yes=Y`` (0 to 1): the share of mistakes that are false passes, the VLM habit of saying "yes"
  too easily. On an image with failing and passing requirements the expected number of mistakes
  stays RATE per requirement and Y of them are false passes; an image with no failing requirement
  can only get false failures, at (1 - Y) * RATE, so a yes-biased judge rejects good images less
  often. Without ``yes`` every verdict is wrong with the same chance, whatever its answer.
- ``near=K`` (>= 0, default 0): mistakes gather where the exact answer is close. Each requirement
  weighs 1 + K * d, where d in 0..1 is how borderline it is: in the shapes world, measured by the
  detector (small objects, sizes near the small/large threshold, centres near a cell edge or the
  relation margin, colours between two palette entries); for any critic, also its own doubt
  (1 - confidence). The image's mistakes are shared out by weight, so the mean rate stays RATE
  (less only where a probability reaches 1).
- ``seed=S`` (integer, default 0): which mistakes. A benchmark need not vary it per brief: every
  image has its own content hash, so different images already get independent mistakes; change
  it to repeat a whole benchmark with another draw of the same judge.

What a mistake looks like. Whether a verdict is wrong is a hash of (seed, image content hash,
requirement id) held against its probability (which, with yes or near, also depends on the image's
other answers to the same checklist), so one image and requirement get the same wrong answer
however the question is put: a critique, a re-ask, a ranking, a pairwise comparison in either
order, a drift check (all answered from this critic's own critiques, so no path leaks the exact
answer). The mistakes are made against the wrapped critic's answer, so a wrapped critic that
itself varies between calls (a VLM at a temperature) still varies.

A false pass says the requirement holds ("found a red circle") and points nowhere. A false failure
says it does not ("cannot find a red circle") and, like a VLM's box, its region is missing a third
of the time and otherwise shifted off the object or drawn loose around it (also fixed per image
and requirement). Defects follow the verdicts: those whose requirements all pass now are dropped,
and a false failure adds one. The score moves by the share of verdicts that changed (for ``scene``
this is exactly its own share of requirements passed); the summary is rewritten from these
verdicts (the exact critic's would describe the true scene), and the wrapped critic's
recommendation is dropped when a verdict changed. Confidence is left as the wrapped critic gave
it. Planning and chat feedback are the wrapped critic's, without noise.

The name (``noisy:0.1,yes=0.7:scene``) carries every non-default option, so caches keyed by the
critic's name keep noise levels apart.
"""
from __future__ import annotations

import math
from typing import Any

from PIL import Image

from agent.contracts import Critique, Defect, Requirement, Verdict
from agent.critics.base import Critic, Plan
from agent.critics.noise_model import (
    NoiseSettings,
    ShapesMeasure,
    false_fail_evidence,
    false_pass_evidence,
    flip_probabilities,
    mistaken_region,
    unit_hash,
)
from tools.engine.images import image_hash
from tools.errors import InputError

USAGE = "noisy:RATE[,OPTION=VALUE...][:SPEC], e.g. noisy:0.2 or noisy:0.1,yes=0.7,near=2,seed=3:scene"


class NoisyCritic(Critic):
    """Wraps a critic; every verdict is wrong with the settings' probability, the same way each time."""

    exact = False
    order_invariant = True  # rankings come from this critic's critique scores

    def __init__(self, inner: Critic, settings: NoiseSettings, inner_spec: str = "scene"):
        self.inner, self.inner_spec, self.settings = inner, inner_spec, settings
        self.name = f"noisy:{settings.label()}:{inner.name}"

    @property
    def prompt_version(self) -> str | None:
        return getattr(self.inner, "prompt_version", None) or self.inner.describe().get("prompt_version")

    def plan(self, brief: str) -> Plan:
        return self.inner.plan(brief)

    def feedback_requirements(self, text: str, brief: str, checklist: list[Requirement]) -> list[Requirement]:
        return self.inner.feedback_requirements(text, brief, checklist)

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        return self.mislead(self.inner.critique(image, brief, checklist), image, brief, checklist)

    def mislead(self, truth: Critique, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        """``truth`` (the wrapped critic's critique of ``image``) with this judge's mistakes in it."""
        key = (self.settings.seed, image_hash(image))
        reqs = {r.id: r for r in checklist}
        shapes = ShapesMeasure.of(image, brief, checklist)
        difficulty = self._difficulty(truth, reqs, shapes) if self.settings.near else {}
        chance = flip_probabilities({v.id: v.passed for v in truth.verdicts}, difficulty, self.settings)
        verdicts = [self._mistaken(v, reqs.get(v.id) or Requirement(id=v.id, text=v.id), shapes, key)
                    if unit_hash(*key, v.id, "flip") < chance[v.id] else v for v in truth.verdicts]
        changed = {v.id for v, t in zip(verdicts, truth.verdicts) if v.passed != t.passed}
        shift = (sum(v.passed for v in verdicts) - sum(t.passed for t in truth.verdicts)) / max(1, len(verdicts))
        return truth.model_copy(update={
            "verdicts": verdicts,
            "score": min(1.0, max(0.0, truth.score + shift)),
            "defects": _defects(truth.defects, verdicts, changed, reqs),
            "recommended": None if changed else truth.recommended,
            "summary": _summary(verdicts, reqs),
            "critic": self.name,
        })

    @staticmethod
    def _mistaken(v: Verdict, req: Requirement, shapes: ShapesMeasure | None, key: tuple) -> Verdict:
        """The opposite verdict, worded and boxed as a judge that believes it would."""
        if not v.passed:
            return v.model_copy(update={"passed": True, "evidence": false_pass_evidence(req), "region": None})
        region = None
        if req.kind != "background":  # a background is global: nowhere to point
            anchor = shapes.anchor(req) if shapes else v.region
            region = mistaken_region(anchor, *key, v.id)
        return v.model_copy(update={"passed": False, "evidence": false_fail_evidence(req), "region": region})

    def _difficulty(self, truth: Critique, reqs: dict[str, Requirement],
                    shapes: ShapesMeasure | None) -> dict[str, float]:
        """How borderline each answer is: the judge's own doubt, or the measured geometry if higher."""
        out = {}
        for v in truth.verdicts:
            measured = shapes.difficulty(reqs[v.id]) if shapes and v.id in reqs else 0.0
            out[v.id] = max(1.0 - v.confidence, measured)
        return out

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"name": self.name, "exact": False, "rate": s.rate, "yes": s.yes, "near": s.near,
                "seed": s.seed, "inner": self.inner.describe()}


def _defects(defects: list[Defect], verdicts: list[Verdict], changed: set[str],
             reqs: dict[str, Requirement]) -> list[Defect]:
    """The wrapped critic's defects that still have a failing requirement, and one per false failure."""
    failing = {v.id for v in verdicts if not v.passed}
    kept = []
    for d in defects:
        still = [rid for rid in d.requirement_ids if rid in failing]
        if d.requirement_ids and not still:
            continue
        kept.append(d.model_copy(update={"requirement_ids": still}) if d.requirement_ids else d)
    for v in verdicts:
        if v.id in changed and not v.passed:
            group = reqs[v.id].group if v.id in reqs else None  # the object a local fix would redraw
            kept.append(Defect(kind="replace" if v.region else "global", description=v.evidence,
                               region=v.region, requirement_ids=[v.id], group=group))
    return kept


def _summary(verdicts: list[Verdict], reqs: dict[str, Requirement]) -> str:
    missing = [reqs[v.id].text if v.id in reqs else v.id for v in verdicts if not v.passed]
    met = f"{len(verdicts) - len(missing)} of {len(verdicts)} requirements met"
    return f"{met}; not met: {'; '.join(missing)}" if missing else met


# -- the spec ---------------------------------------------------------------------------------------
def parse_spec(arg: str) -> tuple[NoiseSettings, str]:
    """``RATE[,OPTION=VALUE...][:SPEC]`` (what follows ``noisy:``) -> settings and the wrapped spec."""
    head, colon, inner = arg.strip().partition(":")
    if not head:
        raise InputError(f"the noisy critic needs an error rate: {USAGE}")
    if colon and not inner.strip():
        raise InputError(f"nothing after the colon in 'noisy:{arg}': name the critic to wrap, or leave "
                         f"the colon out for the exact one ({USAGE})")
    rate_text, *options = [part.strip() for part in head.split(",")]
    rate = _fraction("rate", rate_text)
    values: dict[str, str] = {}
    for option in options:
        name, eq, value = option.partition("=")
        name = name.strip()
        if name not in ("yes", "near", "seed") or not eq:
            raise InputError(f"unknown noisy critic option {option!r}; use yes=SHARE, near=WEIGHT, seed=INT "
                             f"({USAGE})")
        if name in values:
            raise InputError(f"noisy critic option {name!r} is given twice in 'noisy:{arg}'")
        values[name] = value.strip()
    yes = _fraction("yes", values["yes"]) if "yes" in values else None
    near = _number("near", values.get("near", "0"))
    if near < 0:
        raise InputError(f"noisy critic near must be 0 or more, got {values['near']!r}")
    try:
        seed = int(values.get("seed", "0"))
    except ValueError:
        raise InputError(f"noisy critic seed must be an integer, got {values['seed']!r}") from None
    return NoiseSettings(rate=rate, yes=yes, near=near, seed=seed), inner.strip() or "scene"


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"noisy critic {name} must be a number, got {text!r} ({USAGE})")
    return value


def _fraction(name: str, text: str) -> float:
    value = _number(name, text)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"noisy critic {name} must be between 0 and 1, got {text!r} ({USAGE})")
    return value


def make_noisy_critic(arg: str = "", **options: Any) -> NoisyCritic:
    """``noisy:...`` specs; ``options`` (a base URL, a key...) go to the wrapped critic."""
    from agent.critics.registry import make_critic  # the registry imports this module lazily

    settings, inner_spec = parse_spec(arg)
    return NoisyCritic(make_critic(inner_spec, **options), settings, inner_spec)
