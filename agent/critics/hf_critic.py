"""A vision-language model on this machine as critic: ``hf:PATH_OR_ID`` (any model
``AutoModelForImageTextToText`` and ``AutoProcessor`` load: a folder, or a hub id in the cache).

Options (``--critic-option KEY=VALUE``):

- ``mode=vqa`` (default): VQAScore. Each requirement's P("Yes") to ``Does this figure show
  "{text}"?``, all of one image's requirements in one batched forward pass (agent/vlm/hf_vqa.py);
  passed when P(yes) >= ``threshold`` (0.5). Calibrated and cheap: one pass, no generation.
- ``mode=judge``: the structured critique the server critic asks for, written with the model's chat
  template and decoded under the critique's JSON schema (agent/vlm/local.py), validated and re-asked
  by the server critic's own code (agent/critics/judge.py). Needs a chat template.
- ``device`` / ``dtype`` (auto: the engine's rule; ``device=cuda:1`` puts the critic on another GPU),
  ``localise=auto|on|off`` (auto: a model with PaliGemma ``<loc>`` tokens finds the objects itself),
  ``max_tokens`` (the longest structured reply), ``reasks``, ``image_side``, ``batched`` (false: one
  question per pass, to measure what batching buys), ``blind`` (requirement kinds the model cannot
  tell apart, left unjudged: ``auto`` reads the ``critic_card.json`` beside the model,
  agent/critics/card.py; ``none``; or kinds, e.g. ``blind=count,relation``).

Scores are probabilities (vqa) or the model's own score (judge) of one image at a time, so ranking,
comparing and drift come from critiques: no order effect, and one image's verdicts are the same
whichever way they are asked for. Shapes-grammar briefs are planned by the grammar (exactly, as the
scene critic does); free-form briefs by the model (judge-style, constrained).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from agent.contracts import Critique, Requirement
from agent.critics.base import Critic, Plan, critic_error
from agent.critics.card import load_card, unjudge
from agent.critics.judge import JudgeCritic
from agent.critics.localised import localise
from agent.critics.registry import read_options
from agent.critics.vqascore import question, vqa_critique
from agent.vlm.errors import ModelError
from tools.contracts import RequirementKind
from tools.errors import BriefError, InputError


class HFOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["vqa", "judge"] = "vqa"
    device: str = "auto"
    dtype: str = "auto"
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="P(yes) at or above which a requirement passes")
    localise: Literal["auto", "on", "off"] = "auto"
    max_tokens: int = Field(2048, ge=64, description="the longest structured reply (judge, plan), in tokens")
    reasks: int = Field(2, ge=0)
    image_side: int = Field(768, ge=32, description="long side (px) of the image given to the processor")
    batched: bool = True
    blind: str = Field("auto", description="requirement kinds not to judge: auto (those the model's critic_card.json "
                                           "measured as blind), none, or kinds separated by commas")


class HFCritic(Critic):
    exact = False
    order_invariant = True

    def __init__(self, name: str, options: HFOptions):
        from agent.vlm.hf_vlm import load_vlm
        from agent.vlm.local import LocalSettings, LocalTransport, require_xgrammar
        from agent.vlm.structured import StructuredClient

        self.options = options
        self.name = f"hf:{name}"
        self.blind = blind_kinds(name, options.blind)
        try:
            self.vlm = load_vlm(name, options.device, options.dtype)
        except ModelError as exc:
            raise critic_error(exc) from None
        if options.mode == "judge" and not self.vlm.has_chat_template:
            raise InputError(f"{self.name}: judge mode needs a chat template, and this model's processor has none "
                             "(a PaliGemma-style model reads plain prompts); use mode=vqa")
        if options.mode == "judge":
            require_xgrammar(self.name)
        self.judge = None
        if self.vlm.has_chat_template:
            settings = LocalSettings(reasks=options.reasks, max_tokens=options.max_tokens,
                                     image_side=options.image_side)
            self.judge = JudgeCritic(StructuredClient(LocalTransport(self.vlm, settings), settings), self.name)
        self.localiser = self._own_localiser()

    def _own_localiser(self):
        if self.options.localise == "off":
            return None
        if not self.vlm.has_loc_tokens:
            if self.options.localise == "on":
                raise InputError(f"{self.name} has no <loc0000>..<loc1023> tokens to localise with; name a "
                                 "detector with --localiser, or use localise=auto")
            return None
        from agent.vlm.loc_tokens import LocTokenLocaliser

        return LocTokenLocaliser(self.vlm)

    def __repr__(self) -> str:
        return f"HFCritic({self.name!r}, mode={self.options.mode!r}, device={str(self.vlm.device)!r})"

    def describe(self) -> dict[str, Any]:
        model = self.vlm.model
        return {"name": self.name, "exact": self.exact, "model_type": model.config.model_type,
                "device": str(self.vlm.device), "dtype": str(model.dtype).removeprefix("torch."),
                "localiser": self.localiser.name if self.localiser else None, "not_judged": sorted(self.blind),
                **self.options.model_dump(exclude={"device", "dtype"})}

    # -- the protocol ----------------------------------------------------------------------------
    def plan(self, brief: str) -> Plan:
        from tools.shapes.parse import parse_brief

        if not brief or not brief.strip():
            raise InputError("the brief is empty; describe the image you want")
        try:
            parsed = parse_brief(brief)
        except BriefError:
            parsed = None
        if parsed is not None:
            return Plan(checklist=parsed.requirements(), prompt=parsed.text(),
                        notes="checklist from the shapes grammar; prompt is the canonical brief")
        if self.judge is None:
            raise InputError(f"{self.name} cannot plan a free-form brief: planning is writing, and its processor "
                             "has no chat template; give a shapes-grammar brief, or a critic that can plan")
        return self.judge.plan(brief)

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        if not checklist:
            raise InputError("the checklist is empty; plan the brief first")
        if self.options.mode == "judge":
            crit = unjudge(self.judge.critique(image, brief, checklist), checklist, self.blind)
        else:
            from agent.vlm.hf_vqa import yes_probabilities

            try:
                probs, usage = yes_probabilities(self.vlm, image, [question(r.text) for r in checklist],
                                                 batched=self.options.batched)
            except ModelError as exc:
                raise critic_error(exc) from None
            crit = vqa_critique(self.name, checklist, probs, self.options.threshold, usage, self.blind)
        if self.localiser is not None:
            crit = localise(crit, image, brief, checklist, self.localiser)
        return crit


def blind_kinds(name: str, option: str) -> dict[str, str]:
    """Requirement kind -> why it is not judged, from the option and the card beside the model."""
    option = option.strip().lower()
    if option == "none":
        return {}
    if option == "auto":
        card = load_card(name) if Path(name).is_dir() else None
        return {k: card.why(k) for k in sorted(card.blind_kinds())} if card else {}
    known = set(get_args(RequirementKind))
    kinds = [k.strip() for k in option.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise InputError(f"blind={option!r}: {', '.join(unknown)} is not a requirement kind; use auto, none or "
                         f"some of {', '.join(sorted(known))}, separated by commas")
    return {k: "named in the critic option blind" for k in kinds}


def make_hf_critic(name: str, **options: Any) -> HFCritic:
    """The critic for spec ``hf:PATH_OR_ID``; ``options`` are :class:`HFOptions` fields."""
    return HFCritic(name, read_options("hf", HFOptions, options))


__all__ = ["HFCritic", "HFOptions", "make_hf_critic"]
