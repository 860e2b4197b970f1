"""One chat completion over the official openai client, with errors turned into this package's own.

The client already retries 408/409/429/5xx and connection errors with backoff, honouring
Retry-After; this module only sets how often and how long (``max_retries``, ``timeout``) and says
what it means when those retries are spent. Nothing here may let the API key out: messages built
from server text are redacted, and openai's exceptions (which hold the request, headers included)
are never chained onto ours.
"""
from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import openai

from agent.contracts import Usage
from agent.vlm.errors import FormatRejected, ImageTooLarge, ModelReplyError, ModelUnavailable
from agent.vlm.images import encode, image_part
from agent.vlm.settings import OPENAI_URL, VLMSettings, redact_url
from agent.vlm.pricing import cost
from tools.errors import InputError

log = logging.getLogger("sculpt.vlm")

_IMAGE_WORDS = re.compile(r"image|picture|pixel", re.I)
_SIZE_WORDS = re.compile(r"too (large|big)|exceed|maximum|max(imum)?[ _](size|dimension|resolution|pixels)|"
                         r"dimension|resolution|size", re.I)
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|structured output|guided|grammar", re.I)
YES_TOKENS = ("Yes", " Yes", "yes")  # the answer VQAScore reads, as tokenizers write it (agent/vlm/hf_vqa.py)
_SECRETS = (re.compile(r"Bearer\s+\S+", re.I), re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"))


@dataclass
class Reply:
    text: str
    usage: Usage
    finish_reason: str | None
    priced: bool


class ChatTransport:
    """Sends chat completions for one model at one server."""

    def __init__(self, model: str, settings: VLMSettings):
        if not model or not model.strip():
            raise InputError("name the model, e.g. openai:gpt-4o or openai:Qwen/Qwen2.5-VL-7B-Instruct")
        self.model = model.strip()
        self.settings = settings
        self.url = settings.url
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        if not key:
            if settings.base_url is None:
                raise InputError("no API key for api.openai.com: set OPENAI_API_KEY (or api_key in the config "
                                 "file), or point --critic-base-url at a local OpenAI-compatible server")
            key = "not-needed"  # local servers ignore it, but the client insists on one
        self._secret = key
        self._client = openai.OpenAI(api_key=key, base_url=self.url, timeout=settings.timeout,
                                     max_retries=settings.max_retries)
        # OpenAI's newer models take max_completion_tokens only; other servers know max_tokens.
        self._tokens_arg = "max_completion_tokens" if self.url == OPENAI_URL else "max_tokens"

    def __repr__(self) -> str:
        return f"ChatTransport(model={self.model!r}, base_url={redact_url(self.url)!r})"

    @property
    def who(self) -> str:
        return f"openai:{self.model} at {redact_url(self.url)}"

    def redact(self, text: Any) -> str:
        """Text with every credential blanked, otherwise untouched."""
        text = str(text)
        if self._secret and self._secret != "not-needed":
            text = text.replace(self._secret, "***")
        for pattern in _SECRETS:
            text = pattern.sub("***", text)
        return text

    def clean(self, text: Any, limit: int = 300) -> str:
        """Server text made safe to show in a message: redacted, one line, short."""
        text = " ".join(self.redact(text).split())
        return text if len(text) <= limit else text[:limit] + "..."

    def image_part(self, image, long_side: int, multiple: int, detail: str) -> tuple[dict, tuple[int, int]]:
        """An image as a message part (a PNG data URL) and the size it is sent at."""
        sent = encode(image, long_side, multiple)
        return image_part(sent, detail), sent.size

    def complete(self, messages: list[dict], response_format: dict | None = None, shape=None) -> Reply:
        """One reply. Raises ModelUnavailable (or its FormatRejected / ImageTooLarge) and ModelReplyError.
        ``shape`` (agent/vlm/grammar.py) is for decoders that enforce it; a server gets ``response_format``."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages,
                                  self._tokens_arg: self.settings.max_tokens}
        if self.settings.temperature is not None:
            kwargs["temperature"] = self.settings.temperature
        if response_format is not None:
            kwargs["response_format"] = response_format
        response, seconds = self._create(kwargs, response_format is not None)
        return self._read(response, seconds)

    def yes_probability(self, image, question: str, long_side: int, multiple: int,
                        detail: str) -> tuple[float, Usage, bool]:
        """VQAScore over a server: P("Yes") as the first answer token to ``question`` about ``image``,
        from the logprobs of that token (the top 20 alternatives; a yes outside them is below the
        20th and counts as 0). Returns (P(yes), usage, priced). A server that gives no logprobs
        raises ModelReplyError saying to use judge mode."""
        part, _size = self.image_part(image, long_side, multiple, detail)
        kwargs: dict[str, Any] = {"model": self.model, self._tokens_arg: 1, "logprobs": True, "top_logprobs": 20,
                                  "messages": [{"role": "user", "content": [part, {"type": "text", "text": question}]}]}
        if self.settings.temperature is not None:
            kwargs["temperature"] = self.settings.temperature
        advice = ("VQAScore reads the probability of the first answer token; use --critic-option mode=judge "
                  "(structured critiques) with this server")
        try:
            response, seconds = self._create(kwargs, False)
        except ModelUnavailable as exc:
            if "logprob" not in str(exc).lower():
                raise
            raise ModelReplyError(f"{self.who} does not return logprobs ({self.clean(exc, 160)}); {advice}",
                                  usage=exc.usage) from None
        usage, priced = self._usage(response, seconds)
        choices = getattr(response, "choices", None) or []
        content = getattr(getattr(choices[0], "logprobs", None), "content", None) if choices else None
        if not content:
            raise ModelReplyError(f"{self.who} returned no logprobs; {advice}", usage=usage, last_reply="")
        first = content[0]
        options = {(getattr(t, "token", ""), float(getattr(t, "logprob", -math.inf)))
                   for t in (getattr(first, "top_logprobs", None) or [])}
        options.add((getattr(first, "token", ""), float(getattr(first, "logprob", -math.inf))))
        p = sum(math.exp(lp) for token, lp in options if token in YES_TOKENS)
        return min(1.0, p), usage, priced

    def _create(self, kwargs: dict[str, Any], sent_format: bool) -> tuple[Any, float]:
        t0 = time.perf_counter()
        error: Exception | None = None
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            error = self._status_error(exc, sent_format)
        except openai.APITimeoutError:
            error = ModelUnavailable(f"{self.who}: no reply within {self.settings.timeout:g} s, "
                                      f"{self.settings.max_retries} retries included; raise timeout "
                                      "(SCULPT_VLM_TIMEOUT) or check the server's load")
        except openai.APIConnectionError as exc:
            error = ModelUnavailable(f"{self.who}: cannot connect ({self.clean(exc)}) after "
                                      f"{self.settings.max_retries} retries; is the server running and the "
                                      "base URL right (--critic-base-url / OPENAI_BASE_URL)?")
        except openai.OpenAIError as exc:
            error = ModelReplyError(f"{self.who}: unreadable reply: {self.clean(exc)}")
        seconds = time.perf_counter() - t0
        if error is not None:
            # Raised outside the except block so the openai exception is not kept as __context__.
            assert isinstance(error, (ModelUnavailable, ModelReplyError))
            error.usage = Usage(calls=1, seconds=seconds)
            raise error
        return response, seconds

    def _usage(self, response: Any, seconds: float) -> tuple[Usage, bool]:
        raw = getattr(response, "usage", None)
        tokens_in = int(getattr(raw, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(raw, "completion_tokens", 0) or 0)
        dollars, priced = cost(self.model, tokens_in, tokens_out, self.settings.price_table())
        return Usage(calls=1, input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=dollars,
                     seconds=seconds), priced

    def _read(self, response: Any, seconds: float) -> Reply:
        usage, priced = self._usage(response, seconds)
        choices = getattr(response, "choices", None)
        if not choices:
            raise ModelReplyError(f"{self.who}: the reply holds no choices (no answer at all); try again or "
                                   "check the server's logs", usage=usage, last_reply="")
        choice = choices[0]
        message = getattr(choice, "message", None)
        finish = getattr(choice, "finish_reason", None)
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise ModelReplyError(f"{self.who} refused to answer: {self.clean(refusal)}", usage=usage,
                                   last_reply=self.redact(refusal))
        if finish == "content_filter":
            raise ModelReplyError(f"{self.who}: the reply was withheld by the server's content filter",
                                   usage=usage, last_reply=self.redact(getattr(message, "content", "") or ""))
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            raise ModelReplyError(f"{self.who}: empty reply (finish_reason={finish}); check that the model "
                                   "accepts images and that max_tokens leaves room for an answer",
                                   usage=usage, last_reply=content if isinstance(content, str) else "")
        return Reply(text=content, usage=usage, finish_reason=finish, priced=priced)

    def served_models(self) -> list[str]:
        """The model ids the server lists at GET /models, or [] when it cannot say."""
        try:
            return sorted(m.id for m in self._client.with_options(max_retries=0).models.list())
        except openai.OpenAIError:
            return []

    def _status_error(self, exc: openai.APIStatusError, sent_format: bool) -> ModelUnavailable:
        status = exc.status_code
        text = self.clean(exc.message)
        if status == 413 or (status in (400, 422) and _IMAGE_WORDS.search(text) and _SIZE_WORDS.search(text)):
            return ImageTooLarge(f"{self.who} refused the image as too large ({status}): {text}")
        if status in (400, 422) and sent_format and _FORMAT_WORDS.search(text):
            return FormatRejected(f"{self.who} refused the response_format ({status}): {text}")
        retries = self.settings.max_retries
        if status in (401, 403):
            hint = "check OPENAI_API_KEY (or api_key in the config file)"
        elif status == 404:
            served = self.served_models()
            hint = (f"the server offers: {', '.join(served[:20])}" if served else
                    f"check the model name and the base URL ({redact_url(self.url)})")
        elif status == 429:
            hint = f"still rate-limited after {retries} retries; wait, or raise max_retries (SCULPT_VLM_MAX_RETRIES)"
        elif status >= 500:
            hint = f"server error after {retries} retries; check the server's logs"
        else:
            hint = "the server rejected the request"
        return ModelUnavailable(f"{self.who}: HTTP {status}: {text} ({hint})")
