"""A model on this machine behind the same interface as the HTTP transport, so a local judge's
replies are asked, validated and re-asked by the very code that handles a server's
(:class:`agent.vlm.structured.StructuredClient`).

Decoding is constrained to the reply's JSON schema with **xgrammar**, as a ``logits_processor`` for
``model.generate``. Why xgrammar: it is maintained (the structured-output engine of vLLM, SGLang and
TensorRT-LLM), installs as a CPU wheel, compiles a JSON schema for any Hugging Face tokenizer
(byte-level, byte-fallback or plain vocabularies) in milliseconds, and its per-token mask is cheap
enough not to show beside a forward pass. outlines pulls in far more; lm-format-enforcer works
through ``prefix_allowed_tokens_fn`` and is slower per token. The schema is bounded first
(:mod:`agent.vlm.grammar`) so that every reply the grammar allows is valid and ends within the
token budget: a reply always parses, even a random-weight model's.

The system message is folded into the first user turn: chat templates disagree on system roles
(some drop them, some refuse them), and every one of them renders a user turn.
"""
from __future__ import annotations

import importlib.util
import json
import threading
import time
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field

from agent.contracts import Usage
from agent.vlm.errors import ModelReplyError
from agent.vlm.grammar import ReplyShape, bounded_schema
from agent.vlm.hf_vlm import LocalVLM
from agent.vlm.images import sent_size, to_rgb
from agent.vlm.transport import Reply
from tools.errors import InputError

_COMPILE_LOCK = threading.Lock()


def require_xgrammar(who: str) -> None:
    if importlib.util.find_spec("xgrammar") is None:
        raise InputError(f"{who}: structured replies from a local model (judge mode, planning a free-form brief) "
                         "need xgrammar: pip install 'sculpt[local-critic]'")


class LocalSettings(BaseModel):
    """What the structured client reads of its settings, for a model on this machine."""

    structured: str = "json_schema"  # always: the decoder enforces the schema itself
    reasks: int = Field(2, ge=0)
    max_tokens: int = Field(2048, ge=64, description="the longest reply the grammar allows, in tokens")
    image_side: int = Field(768, ge=32)
    image_multiple: int = 1
    image_detail: str = "auto"
    box_format: str = "unit"  # the grammar writes every box corner as a fraction of the image

    def public(self) -> dict[str, Any]:
        return self.model_dump()


class LocalTransport:
    url = "local"

    def __init__(self, vlm: LocalVLM, settings: LocalSettings):
        self.vlm = vlm
        self.settings = settings
        self.model = vlm.name

    @property
    def who(self) -> str:
        return f"hf:{self.vlm.name}"

    def redact(self, text: Any) -> str:
        return str(text)  # no credentials on this machine's models

    def clean(self, text: Any, limit: int = 300) -> str:
        text = " ".join(str(text).split())
        return text if len(text) <= limit else text[:limit] + "..."

    def image_part(self, image: Image.Image, long_side: int, multiple: int, detail: str) -> tuple[dict, tuple]:
        """The image itself (no data URL to encode and decode), at most ``long_side`` on its long side."""
        rgb = to_rgb(image)
        size = sent_size(rgb.size, long_side, multiple)
        if size != rgb.size:
            rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        return {"type": "image", "image": rgb}, size

    def complete(self, messages: list[dict], response_format: dict | None = None,
                 shape: ReplyShape | None = None) -> Reply:
        if shape is None:
            raise ValueError("a local model is asked for structured replies only; give the reply's shape")
        bounded = bounded_schema(shape, self.settings.max_tokens)
        turns, images = self._turns(messages)
        prompt = self.vlm.chat_prompt(turns)
        grammar = self._grammar(bounded.schema)
        t0 = time.perf_counter()
        text, tokens_in, tokens_out, ended = self.vlm.run("generating a reply", self._generate, prompt, images,
                                                          grammar, bounded.max_bytes + 1)
        # One forward pass per generated token (the first one reads the prompt too).
        usage = Usage(calls=tokens_out, input_tokens=tokens_in, output_tokens=tokens_out,
                      seconds=time.perf_counter() - t0)
        if not text.strip():
            raise ModelReplyError(f"{self.who}: empty reply", usage=usage, last_reply="")
        return Reply(text=text, usage=usage, finish_reason="stop" if ended else "length", priced=True)

    # -- internals ------------------------------------------------------------------------------
    def _turns(self, messages: list[dict]) -> tuple[list[dict], list[Image.Image]]:
        """Chat-template turns (content as typed parts) and the images in the order they appear."""
        turns: list[dict] = []
        images: list[Image.Image] = []
        system = ""
        for m in messages:
            if m["role"] == "system":
                system += m["content"]
                continue
            content = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
            parts = []
            for p in content:
                if p.get("type") == "image":
                    images.append(p["image"])
                    parts.append({"type": "image"})
                else:
                    parts.append({"type": "text", "text": p["text"]})
            if system and m["role"] == "user":
                parts.insert(0, {"type": "text", "text": system + "\n\n"})
                system = ""
            turns.append({"role": m["role"], "content": parts})
        return turns, images

    def _grammar(self, schema: dict[str, Any]):
        """The compiled grammar of ``schema`` for this model's tokenizer (compilers and grammars are
        kept with the model: the tokenizer's table is built once)."""
        require_xgrammar(self.who)
        import xgrammar as xgr

        key = json.dumps(schema, sort_keys=True)
        cache = self.vlm.cache
        with _COMPILE_LOCK:
            if "xgr" not in cache:
                vocab = self.vlm.model.get_output_embeddings().weight.shape[0]
                info = xgr.TokenizerInfo.from_huggingface(self.vlm.tokenizer, vocab_size=vocab,
                                                          stop_token_ids=self._stops())
                cache["xgr"] = (xgr.GrammarCompiler(info), {})
            compiler, grammars = cache["xgr"]
            if key not in grammars:
                grammars[key] = compiler.compile_json_schema(key, any_whitespace=False)
            return grammars[key]

    def _stops(self) -> list[int]:
        """The tokens that end a turn: the tokenizer's end of text and the model's own end of turn."""
        ids = self.vlm.model.generation_config.eos_token_id
        ids = list(ids) if isinstance(ids, (list, tuple)) else [ids] if ids is not None else []
        eos = self.vlm.tokenizer.eos_token_id
        return list(dict.fromkeys([i for i in [*ids, eos] if i is not None]))

    def _generate(self, prompt: str, images: list[Image.Image], grammar, max_new_tokens: int):
        from xgrammar.contrib.hf import LogitsProcessor

        inputs = self.vlm.inputs([images] if images else None, [prompt])
        n_in = inputs["input_ids"].shape[1]
        stops = self._stops()
        out = self.vlm.model.generate(**inputs, logits_processor=[LogitsProcessor(grammar)], do_sample=False,
                                      max_new_tokens=max_new_tokens, eos_token_id=stops,
                                      pad_token_id=self.vlm.tokenizer.pad_token_id)
        new = out[0, n_in:].tolist()
        ended = any(t in stops for t in new)
        if ended:
            new = new[: next(i for i, t in enumerate(new) if t in stops)]
        text = self.vlm.tokenizer.decode(new, skip_special_tokens=True)
        return text, n_in, len(new) + int(ended), ended
