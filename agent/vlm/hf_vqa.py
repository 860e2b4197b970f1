"""VQAScore on a local model: P("Yes") as the first answer token, for many questions about one image.

Lin et al. 2024 (linzhiqiu/t2v_metrics): the probability the model gives "Yes" as the first token
of its answer to ``Does this figure show "{text}"? Please answer Yes or No.``, read from the softmax
over the whole vocabulary at the last position. The id is that of the first token of
``tokenizer.encode("Yes")``; where " Yes" (with the space a tokenizer may fold into a word) or "yes"
is a single token of its own, its probability is added: they are the same answer, and models that
were trained to write one of them would otherwise look unsure.

All the questions about one image run in one batched forward pass (left padded, with the attention
mask). Where the model takes pre-encoded images (transformers' ``mm_encoder_outputs``, most VLMs
in transformers 5) the image is encoded once for the batch; otherwise it is repeated in the batch
and encoded once per question. Either way the answer equals asking one question at a time, up to
floating-point error (tests/test_hf_critic.py checks it).
"""
from __future__ import annotations

import inspect
import time

from PIL import Image

from agent.contracts import Usage
from agent.vlm.hf_vlm import LocalVLM, timed_usage

YES_VARIANTS = (" Yes", "yes")


def yes_token_ids(tokenizer) -> list[int]:
    """The id of "Yes" and of the variants that are single tokens, without repeats."""
    first = tokenizer.encode("Yes", add_special_tokens=False)
    if not first:
        raise ValueError("the tokenizer encodes 'Yes' as nothing")
    ids = [first[0]]
    for variant in YES_VARIANTS:
        got = tokenizer.encode(variant, add_special_tokens=False)
        if len(got) == 1 and got[0] not in ids:
            ids.append(got[0])
    return ids


def yes_probabilities(vlm: LocalVLM, image: Image.Image, questions: list[str],
                      batched: bool = True) -> tuple[list[float], Usage]:
    """P(yes) for each question about ``image``, and what it cost (forward passes, tokens, seconds).
    ``batched=False`` asks one question at a time (to measure what batching buys)."""
    t0 = time.perf_counter()
    texts = [vlm.prompt(q) for q in questions]
    groups = [texts] if batched else [[t] for t in texts]
    probs: list[float] = []
    tokens = 0
    for group in groups:
        got, n = vlm.run("reading P(yes)", _forward, vlm, image, group)
        probs += got
        tokens += n
    return probs, timed_usage(t0, calls=len(groups), input_tokens=tokens)


def _forward(vlm: LocalVLM, image: Image.Image, texts: list[str]) -> tuple[list[float], int]:
    import torch

    inputs = vlm.inputs([[image]] * len(texts), texts)
    tokens = int(inputs["attention_mask"].sum())
    kwargs = vlm.encode_once(inputs, len(texts)) if len(texts) > 1 and vlm.encodes_image_once else inputs
    if "logits_to_keep" in inspect.signature(vlm.model.forward).parameters:
        kwargs["logits_to_keep"] = 1  # only the last position is read: no (batch, length, vocab) tensor
    logits = vlm.model(**kwargs).logits[:, -1, :].float()
    yes = torch.tensor(yes_token_ids(vlm.tokenizer), device=logits.device)
    probs = torch.softmax(logits, dim=-1)[:, yes].sum(dim=-1).clamp(0.0, 1.0)
    return [float(p) for p in probs.cpu()], tokens
