"""Structured replies: ask for JSON matching a pydantic model, validate, re-ask with the error.

Servers differ in what they accept. OpenAI and recent vLLM take ``response_format`` json_schema;
some servers take only json_object, some neither. The first request to a (base URL, model) finds
out, falling back json_schema -> json_object -> plain text, and the answer is remembered for the
process, so the probe is paid once. Outside json_schema the schema is written into the system
message and JSON is dug out of free text (```json fences, prose around it, reasoning blocks).

A reply that is not valid JSON or fails validation is sent back with the error, a bounded number
of times; the final :class:`ModelReplyError` carries the last reply and what all attempts cost.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from PIL import Image
from pydantic import BaseModel, ValidationError

from agent.contracts import Usage
from agent.vlm.errors import FormatRejected, ImageTooLarge, ModelError, ModelReplyError, ModelUnavailable
from agent.vlm.grammar import Override, ReplyShape
from agent.vlm.images import family_multiple
from agent.vlm.settings import VLMSettings
from agent.vlm.templates import load_template
from agent.vlm.transport import ChatTransport

log = logging.getLogger("sculpt.vlm")
T = TypeVar("T", bound=BaseModel)

MODES = ("json_schema", "json_object", "text")
_NEXT_MODE = {"json_schema": "json_object", "json_object": "text"}
_MIN_SIDE = 64  # halving an image below this leaves nothing to judge

# (base URL, model) -> the structured-output mode that server accepts for that model.
_MODES: dict[tuple[str, str], str] = {}
_MODES_LOCK = threading.Lock()


def known_mode(url: str, model: str) -> str | None:
    with _MODES_LOCK:
        return _MODES.get((url, model))


def _remember_mode(url: str, model: str, mode: str) -> None:
    with _MODES_LOCK:
        _MODES[(url, model)] = mode


# -- schemas and JSON ---------------------------------------------------------------------------
def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form strict structured output needs: every property
    required, no extra properties, no defaults, no string lengths (OpenAI's strict mode refuses
    minLength/maxLength). Defaults and lengths stay in the pydantic model, so a lenient server's
    reply that leaves out an empty list still validates, and an empty string is still re-asked."""
    schema = copy.deepcopy(model.model_json_schema())

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("default", None)
            if node.get("type") == "string":
                node.pop("minLength", None)
                node.pop("maxLength", None)
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(schema)
    return schema


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def extract_json(text: str) -> Any:
    """The JSON value in a reply: the whole text, a fenced block, or the first balanced {...}."""
    text = _THINK.sub("", text).strip()
    candidates = [text] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        end = _balanced_end(text, start)
        if end is not None:
            candidates.append(text[start:end])
    first_error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
    if start < 0:
        raise ValueError(f"the reply holds no JSON object (it starts {text[:60]!r})")
    raise ValueError(f"the reply is not valid JSON: {first_error}")


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the brace that closes the one at ``start``, skipping braces in strings."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def describe_error(exc: Exception, limit: int = 8) -> str:
    """A validation error as the model should read it: where, and what is wrong."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_context=False)
        parts = [f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in errors[:limit]]
        more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
        return "the JSON does not match the schema: " + "; ".join(parts) + more
    return str(exc)


# -- requests -----------------------------------------------------------------------------------
@dataclass
class ChatRequest:
    """What to ask: the rendered template's two messages and the images, labelled in order.
    ``constraints`` narrow the reply's schema where the caller knows its shape (one verdict per
    checklist id): a local model's decoder enforces them (agent/vlm/grammar.py); a server gets the
    reply model's strict schema and the same shape is checked after the reply."""

    system: str
    user: str
    images: list[Image.Image] = field(default_factory=list)
    labels: list[str] | None = None
    constraints: dict[str, Override] = field(default_factory=dict)


@dataclass
class Answer(Generic[T]):
    value: T
    usage: Usage
    text: str
    sizes: list[tuple[int, int]]  # the sizes the images were sent at (pixel boxes refer to them)
    mode: str
    priced: bool


class StructuredClient:
    """Asks one model for validated JSON replies."""

    def __init__(self, transport: ChatTransport, settings: VLMSettings):
        """``transport``: anything with ChatTransport's ``complete``, ``image_part``, ``url``, ``model``,
        ``who``, ``clean`` and ``redact`` (the HTTP one, or agent/vlm/local.py's model on this machine)."""
        self.transport = transport
        self.settings = settings
        self.image_side = settings.image_side  # lowered for good if the server refuses an image size
        self.multiple = settings.image_multiple or family_multiple(transport.model)
        self._format = load_template("reply_format")

    @property
    def mode(self) -> str:
        if self.settings.structured != "auto":
            return self.settings.structured
        return known_mode(self.transport.url, self.transport.model) or "json_schema"

    def ask(self, request: ChatRequest, reply_model: type[T],
            validate: Callable[[T, list[tuple[int, int]]], None] | None = None) -> Answer[T]:
        """A reply parsed into ``reply_model`` and passed through ``validate`` (which raises
        ValueError to have the model re-asked)."""
        total = Usage()
        history: list[tuple[str, str]] = []
        halved = False
        attempts = self.settings.reasks + 1
        while True:
            mode = self.mode
            messages, sizes = self._messages(request, reply_model, mode, history)
            try:
                reply = self.transport.complete(messages, self._response_format(reply_model, mode),
                                                shape=ReplyShape(reply_model, request.constraints))
            except FormatRejected as exc:
                total += exc.usage
                if self.settings.structured != "auto" or mode not in _NEXT_MODE:
                    raise self._with_usage(exc, total, "; set structured to 'auto' or 'text'")
                # A warning, not info: a schema the server cannot take also lands here, and the
                # person should see why replies are no longer schema-constrained.
                log.warning("%s: %s; using response_format %s for this model from now on", self.transport.who,
                            str(exc).split(": ", 1)[-1], _NEXT_MODE[mode])
                _remember_mode(self.transport.url, self.transport.model, _NEXT_MODE[mode])
                continue
            except ImageTooLarge as exc:
                total += exc.usage
                if halved or not request.images or self.image_side // 2 < _MIN_SIDE:
                    raise self._with_usage(ModelUnavailable(
                        f"{exc}; the image was {self.image_side} px on its long side - set image_side "
                        "(SCULPT_VLM_IMAGE_SIDE) to a size the server accepts"), total)
                halved = True
                self.image_side //= 2
                log.info("%s refused the image size; resending at %d px", self.transport.who, self.image_side)
                continue
            except ModelError as exc:
                raise self._with_usage(exc, total + exc.usage)
            total += reply.usage
            if mode == "json_schema" and known_mode(self.transport.url, self.transport.model) is None:
                _remember_mode(self.transport.url, self.transport.model, mode)
            text = reply.text
            try:
                value = reply_model.model_validate(extract_json(text))
                if validate is not None:
                    validate(value, sizes)
            except ValueError as exc:  # JSON and pydantic validation errors alike
                error = describe_error(exc)
                if reply.finish_reason == "length":
                    error += (f" (the reply was cut off at max_tokens={self.settings.max_tokens}; raise "
                              "max_tokens / SCULPT_VLM_MAX_TOKENS)")
                if len(history) + 1 >= attempts:
                    raise ModelReplyError(f"{self.transport.who}: no usable reply in {attempts} attempt(s); "
                                           f"last error: {self.transport.clean(error, 500)}", usage=total,
                                           last_reply=self.transport.redact(text))
                history.append((text, error))
                continue
            return Answer(value=value, usage=total, text=text, sizes=sizes, mode=mode, priced=reply.priced)

    @staticmethod
    def _with_usage(exc: ModelError, usage: Usage, suffix: str = "") -> ModelError:
        return type(exc)(f"{exc}{suffix}", usage=usage, last_reply=exc.last_reply)

    def _response_format(self, reply_model: type[BaseModel], mode: str) -> dict | None:
        if mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": reply_model.__name__,
                                                          "schema": strict_schema(reply_model), "strict": True}}
        if mode == "json_object":
            return {"type": "json_object"}
        return None

    def _messages(self, request: ChatRequest, reply_model: type[BaseModel], mode: str,
                  history: list[tuple[str, str]]) -> tuple[list[dict], list[tuple[int, int]]]:
        system = request.system
        if mode != "json_schema":
            # Without a schema-constrained decoder the model must read the schema itself.
            schema = json.dumps(strict_schema(reply_model), separators=(",", ":"))
            system += "\n\n" + self._format.fill("system", schema=schema)
        sent = [self.transport.image_part(im, self.image_side, self.multiple, self.settings.image_detail)
                for im in request.images]
        if sent:
            labels = request.labels or [f"Image {i + 1}:" for i in range(len(sent))]
            content: Any = [{"type": "text", "text": request.user}]
            for label, (part, _size) in zip(labels, sent):
                content += [{"type": "text", "text": label}, part]
        else:
            content = request.user  # text-only servers want a plain string
        messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        for reply_text, error in history:
            messages += [{"role": "assistant", "content": reply_text},
                         {"role": "user", "content": self._format.fill("user", error=error)}]
        return messages, [size for _part, size in sent]
