"""A vision-language model on this machine: loaded once, prompted one agreed way, run under a lock.

The prompt format (agreed with the shapes-world VLM's training, so keep it exactly): with a chat
template, one user turn holding the image then the text, rendered with
``apply_chat_template(..., add_generation_prompt=True, tokenize=False)`` and given to the processor
with the image; without one (PaliGemma-style), the processor's own plain-prompt convention: the
text after the image placeholder, to which the processor adds its BOS and newline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from agent.contracts import Usage
from agent.vlm.hf_loading import IMAGE_TEXT_TO_TEXT, is_out_of_memory, load, out_of_memory
from agent.vlm.images import to_rgb

LOC_TOKENS = 1024  # PaliGemma's <loc0000>..<loc1023>: coordinates in 1024ths of the image side


@dataclass
class LocalVLM:
    name: str  # what the person named: a folder or a hub id
    model: Any
    processor: Any
    lock: threading.Lock = field(default_factory=threading.Lock)  # one call at a time on the device
    cache: dict[str, Any] = field(default_factory=dict)  # what is built once per model (grammar compilers)

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def device(self):
        return self.model.device

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None))

    @property
    def has_loc_tokens(self) -> bool:
        vocab = self.tokenizer.get_vocab()
        return "<loc0000>" in vocab and f"<loc{LOC_TOKENS - 1:04d}>" in vocab

    @property
    def encodes_image_once(self) -> bool:
        """Whether the model takes pre-encoded images (transformers' ``mm_encoder_outputs``): then a
        batch of questions about one image runs the vision tower once, not once per question."""
        return self.model._supports_mm_encoder_outputs()

    def prompt(self, text: str) -> str:
        """One user turn, the image then ``text``, as the model reads it (see the module docstring)."""
        if self.has_chat_template:
            turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            return self.processor.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)
        # The processor would put the placeholder there itself (and warn on every call): the same ids.
        token = getattr(self.processor, "image_token", "")
        return text if token and token in text else f"{token}{text}"

    def chat_prompt(self, turns: list[dict[str, Any]]) -> str:
        return self.processor.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)

    def inputs(self, images: list[list[Image.Image]] | None, texts: list[str]) -> dict[str, Any]:
        """Model inputs for a batch: ``images[i]`` are the images of ``texts[i]`` (None: text only);
        left padding, so the last position of every row is its last real token."""
        pictures = [[to_rgb(im) for im in row] for row in images] if images else None
        batch = self.processor(images=pictures, text=texts, padding=True, return_tensors="pt")
        out = {}
        for key, value in batch.items():
            if key == "labels":  # PaliGemma's processor makes training labels; nothing to learn here
                continue
            if hasattr(value, "to"):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self.model.dtype)
            out[key] = value
        return out

    def encode_once(self, inputs: dict[str, Any], rows: int) -> dict[str, Any]:
        """``inputs`` whose rows all show the same image(s), with the image encoded once (from the first
        row) and shared by every row, as ``generate`` itself does for a beam of one prompt."""
        first = {k: (v[:1] if hasattr(v, "shape") and v.shape[:1] == (rows,) else v) for k, v in inputs.items()}
        encoded = self.model._prepare_multimodal_encoder_kwargs_for_generation(dict(first))
        shared = self.model._expand_multimodal_outputs(inputs["input_ids"][:1], encoded["mm_encoder_outputs"],
                                                       expand_size=rows)
        out = {k: v for k, v in inputs.items() if k not in first or k in encoded}
        out["mm_encoder_outputs"] = shared
        return out

    def run(self, doing: str, fn, *args, **kwargs):
        """``fn`` under the model's lock, in inference mode, with out-of-memory named (ModelUnavailable)."""
        import torch

        with self.lock, torch.inference_mode():
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if is_out_of_memory(exc):
                    raise out_of_memory(f"hf:{self.name}", self.device, doing) from None
                raise


def load_vlm(name: str, device: str = "auto", dtype: str = "auto") -> LocalVLM:
    """The model and processor ``name`` names, loaded once per process (agent/vlm/hf_loading.py)."""

    def prepare(model, processor) -> LocalVLM:
        # Batches are padded on the left so every row's next token is read at the last position.
        processor.tokenizer.padding_side = "left"
        if processor.tokenizer.pad_token is None:
            processor.tokenizer.pad_token = processor.tokenizer.eos_token
        return LocalVLM(name=name, model=model, processor=processor)

    return load(IMAGE_TEXT_TO_TEXT, name, device, dtype, prepare)


def timed_usage(t0: float, calls: int, input_tokens: int, output_tokens: int = 0) -> Usage:
    return Usage(calls=calls, input_tokens=input_tokens, output_tokens=output_tokens,
                 seconds=time.perf_counter() - t0)
