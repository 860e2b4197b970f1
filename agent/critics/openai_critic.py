"""A vision-language model as critic, over any OpenAI-compatible server (OpenAI, vLLM, Ollama, LM Studio).

Spec ``openai:<model>``; the server comes from ``base_url`` (``--critic-base-url``) or
``OPENAI_BASE_URL``, the rest from :mod:`agent.vlm.settings`. Two modes (``--critic-option
mode=...``):

- ``judge`` (the default): structured critiques, validated and re-asked (:mod:`agent.critics.judge`);
- ``vqa``: VQAScore, P("Yes") read from the logprobs of the first answer token, one question per
  requirement (:mod:`agent.critics.vqascore`); the checklist is still planned by the judge. A server
  that returns no logprobs is named, with the advice to use judge mode.
"""
from __future__ import annotations

import logging
from typing import Any

from PIL import Image

from agent.contracts import Critique, DriftReport, Ranking, Requirement
from agent.critics.base import Critic, critic_error
from agent.critics.judge import JudgeCritic
from agent.critics.registry import check_options, read_options
from agent.critics.vqascore import VQA_OPTIONS, VQASettings, question, vqa_critique
from agent.vlm.client import describe_server, openai_client
from agent.vlm.errors import ModelError
from agent.vlm.settings import VLMSettings
from agent.vlm.structured import Answer, StructuredClient

log = logging.getLogger("sculpt.vlm")
_UNPRICED_WARNED: set[str] = set()


class OpenAICritic(JudgeCritic):
    def __init__(self, client: StructuredClient):
        super().__init__(client, f"openai:{client.transport.model}")
        self.transport = client.transport
        self.priced: bool | None = None  # known after the first reply

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={describe_server(self.client)!r})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "exact": self.exact, "model": self.model,
                "structured_mode": self.client.mode, "image_side": self.client.image_side,
                "priced": self.priced, "settings": self.settings.public()}

    def _ask(self, request, reply_model, validate=None) -> Answer:
        answer = super()._ask(request, reply_model, validate)
        self._priced(answer.priced)
        return answer

    def _priced(self, priced: bool) -> None:
        self.priced = priced
        if not priced and self.model not in _UNPRICED_WARNED:
            _UNPRICED_WARNED.add(self.model)
            log.warning("%s", self.price_note())

    def _notes(self, answer: Answer) -> list[str]:
        return [] if answer.priced else [self.price_note()]

    def price_note(self) -> str:
        return (f"no price for model {self.model!r} in the price table, so its cost counts as $0; "
                "add it under prices in the config file or SCULPT_VLM_PRICES")


class OpenAIVQACritic(OpenAICritic):
    """VQAScore over a server: verdicts are probabilities, so the critic is order-invariant and ranks,
    compares and checks drift from its critiques (the protocol's score-based defaults)."""

    order_invariant = True

    def __init__(self, client: StructuredClient, vqa: VQASettings):
        super().__init__(client)
        self.vqa = vqa

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": "vqa", "threshold": self.vqa.threshold}

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        self._require(checklist)
        side, multiple = self.client.image_side, self.client.multiple
        probs, usage = [], None
        for req in checklist:
            try:
                p, cost, priced = self.transport.yes_probability(image, question(req.text), side, multiple,
                                                                 self.settings.image_detail)
            except ModelError as exc:
                raise critic_error(exc) from None
            self._priced(priced)
            probs.append(p)
            usage = cost if usage is None else usage + cost
        return vqa_critique(self.name, checklist, probs, self.vqa.threshold, usage)

    rank = Critic.rank
    judge_pair = Critic.judge_pair
    drift = Critic.drift


def make_openai_critic(model: str, *, base_url: str | None = None, **options: Any) -> OpenAICritic:
    """The critic for spec ``openai:<model>``; options are :class:`agent.vlm.settings.VLMSettings`
    fields and ``mode`` (judge or vqa) and ``threshold`` (vqa)."""
    check_options("openai", options, set(VLMSettings.model_fields) | set(VQA_OPTIONS))
    vqa = read_options("openai", VQASettings, {"mode": "judge", **{k: options.pop(k) for k in VQA_OPTIONS
                                                                   if k in options}})
    client = openai_client(model, base_url=base_url, **options)
    return OpenAIVQACritic(client, vqa) if vqa.mode == "vqa" else OpenAICritic(client)


__all__ = ["OpenAICritic", "OpenAIVQACritic", "make_openai_critic"]
