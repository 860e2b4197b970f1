"""Prompt rewriting by a language model over any OpenAI-compatible server (spec ``openai:<model>``).

Same client as the model critic (:func:`agent.vlm.client.openai_client`). A rewrite that repeats a
prompt already tried is sent back; if the model keeps repeating itself the rewriter answers with no
prompt (no new idea, its cost still reported), and the agent goes on with a new seed instead.
"""
from __future__ import annotations

import re
from typing import Any

from PIL import Image

from agent.contracts import Critique, Defect, Requirement, Usage
from agent.rewriters.base import Rewrite, Rewriter, RewriterError, RewriterUnavailable
from agent.vlm.client import describe_server, openai_client
from agent.vlm.errors import ModelError, ModelReplyError, ModelUnavailable
from agent.vlm.schema import RewriteReply
from agent.vlm.structured import ChatRequest, StructuredClient
from agent.vlm.templates import brief_block, checklist_block, json_block, load_template


def normalise(prompt: str) -> str:
    """Prompts that differ only in case, spacing or final punctuation are the same prompt."""
    return re.sub(r"\s+", " ", prompt).strip().strip(".,;!").casefold()


class LLMRewriter(Rewriter):
    def __init__(self, client: StructuredClient):
        self.client = client
        self.settings = client.settings
        self.transport = client.transport
        self.model = self.transport.model
        self.name = f"openai:{self.model}"
        self.vision = self.settings.rewrite_vision
        self.wants_image = self.vision
        # Everything this rewriter's calls cost, including attempts that ended in None.
        self.spent = Usage()

    def __repr__(self) -> str:
        return f"LLMRewriter(model={self.model!r}, base_url={describe_server(self.client)!r})"

    def _images(self, image: Image.Image | None) -> list[Image.Image]:
        return [image] if self.vision and image is not None else []

    def rewrite(self, brief: str, checklist: list[Requirement], critique: Critique, current_prompt: str,
                tried: list[str], hints: list[str] | None = None, image: Image.Image | None = None) -> Rewrite:
        """A new prompt, or ``prompt=None`` when the model only repeats tried ones. ``image`` (the
        current image) is sent only when ``rewrite_vision`` is set."""
        template = load_template("rewrite")
        texts = {r.id: r.text for r in checklist}
        failed = [{"id": v.id, "requirement": texts.get(v.id, v.id), "evidence": v.evidence}
                  for v in critique.verdicts if not v.passed]
        summary = {"score": round(critique.score, 3), "failed": failed, "passed": critique.passed_ids,
                   "defects": [d.description for d in critique.defects], "summary": critique.summary}
        forbidden = {normalise(p) for p in [*tried, current_prompt] if p}
        system, user = template.render(
            brief=brief_block(brief), checklist=checklist_block(checklist), current_prompt=current_prompt,
            critique=json_block("critique", summary), tried=json_block("tried", list(tried)),
            hints=json_block("hints", list(hints or [])))
        repeated = [False]

        def validate(reply: RewriteReply, _sizes) -> None:
            repeated[0] = normalise(reply.prompt) in forbidden
            if repeated[0]:
                raise ValueError(f"the prompt {reply.prompt!r} was already tried; write a different one")

        request = ChatRequest(system, user, self._images(image), labels=["The current image:"])
        try:
            answer = self.client.ask(request, RewriteReply, validate)
        except ModelError as exc:
            self.spent += exc.usage
            if isinstance(exc, ModelReplyError) and repeated[0]:
                return Rewrite(prompt=None, reason="the model only repeated prompts already tried",
                               usage=exc.usage, prompt_version=template.id)
            raise rewriter_error(exc) from None
        self.spent += answer.usage
        reply = answer.value
        return Rewrite(prompt=reply.prompt.strip(), negative_prompt=reply.negative_prompt or None,
                       reason=reply.reason, usage=answer.usage, prompt_version=template.id)

    def region_prompt(self, brief: str, checklist: list[Requirement], defect: Defect, critique: Critique,
                      current_prompt: str, image: Image.Image | None = None) -> Rewrite:
        template = load_template("region_prompt")
        texts = {r.id: r.text for r in checklist}
        about = {"kind": defect.kind, "description": defect.description,
                 "requirements": [{"id": i, "text": texts.get(i, i)} for i in defect.requirement_ids],
                 "region": list(defect.region.as_tuple()) if defect.region else None,
                 "critic_suggestion": defect.prompt}
        system, user = template.render(brief=brief_block(brief), checklist=checklist_block(checklist),
                                       current_prompt=current_prompt, defect=json_block("defect", about))
        request = ChatRequest(system, user, self._images(image), labels=["The current image:"])
        try:
            answer = self.client.ask(request, RewriteReply)
        except ModelError as exc:
            self.spent += exc.usage
            raise rewriter_error(exc) from None
        self.spent += answer.usage
        reply = answer.value
        return Rewrite(prompt=reply.prompt.strip(), negative_prompt=reply.negative_prompt or None,
                       reason=reply.reason, usage=answer.usage, prompt_version=template.id)


def rewriter_error(exc: ModelError) -> RewriterError:
    kind = RewriterUnavailable if isinstance(exc, ModelUnavailable) else RewriterError
    return kind(str(exc), usage=exc.usage)


def make_llm_rewriter(model: str, *, base_url: str | None = None, **options: Any) -> LLMRewriter:
    """The rewriter for spec ``openai:<model>``; options are the model critic's settings."""
    return LLMRewriter(openai_client(model, base_url=base_url, **options))
