"""Batches for the shapes critic model, built as PaliGemma's processor builds them, only faster.

The processor makes ``<image> x N, <bos>, question, "\\n"`` (the prefix, token type 0) and the
answer follows (token type 1, attended causally). Building the ids here instead of calling the
processor per sequence lets one image serve many questions: its vision features are computed once
and repeated, which is most of what makes training fit on a CPU. A test holds these batches equal
to the processor's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tools.shapes.vlm_format import NO, YES


@dataclass
class Batch:
    image_index: torch.Tensor  # (B,) which image each sequence asks about
    input_ids: torch.Tensor  # (B, L), left padded
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    targets: torch.Tensor  # (B, L): the next token to predict at each position, -100 where none


class Encoder:
    def __init__(self, tokenizer, image_tokens: int):
        self.tok = tokenizer
        self.image_tokens = image_tokens
        self.yes = tokenizer.convert_tokens_to_ids(YES)
        self.no = tokenizer.convert_tokens_to_ids(NO)
        self._cache: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        if text not in self._cache:
            self._cache[text] = self.tok(text, add_special_tokens=False)["input_ids"]
        return self._cache[text]

    def prefix(self, question: str) -> list[int]:
        head = [self.tok.image_token_id] * self.image_tokens + [self.tok.bos_token_id]
        return head + self.ids(question + "\n")

    def batch(self, items: list[tuple[int, str, str | None]]) -> Batch:
        """(image index, question, answer or None) per sequence; answers end with <eos>."""
        seqs, types = [], []
        for _, question, answer in items:
            p = self.prefix(question)
            a = self.ids(answer) + [self.tok.eos_token_id] if answer is not None else []
            seqs.append(p + a)
            types.append([0] * len(p) + [1] * len(a))
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), self.tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        tt = torch.zeros((len(seqs), n), dtype=torch.long)
        targets = torch.full((len(seqs), n), -100, dtype=torch.long)
        for i, (s, t) in enumerate(zip(seqs, types)):
            ids[i, n - len(s):] = torch.tensor(s)
            mask[i, n - len(s):] = 1
            tt[i, n - len(s):] = torch.tensor(t)
            answer = torch.tensor(t[1:] + [0]).bool()  # position j predicts token j + 1
            row = torch.tensor(s[1:] + [-100])
            targets[i, n - len(s):] = torch.where(answer, row, torch.full_like(row, -100))
        return Batch(torch.tensor([i for i, _, _ in items]), ids, mask, tt, targets)


def image_features(model, pixels: torch.Tensor) -> torch.Tensor:
    """(N, image tokens, text width): the projected features the decoder reads as image tokens."""
    return model.model.get_image_features(pixels).pooler_output


def hidden_states(model, pixels: torch.Tensor, b: Batch, feats: torch.Tensor | None = None) -> torch.Tensor:
    """The decoder's last hidden states, each image encoded once however many questions it has
    (``feats``: the images' features when the caller has them already)."""
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    feats = (image_features(model, pixels) if feats is None else feats)[b.image_index]
    out = model.model(input_ids=b.input_ids, attention_mask=b.attention_mask, token_type_ids=b.token_type_ids,
                      mm_encoder_outputs={"image": BaseModelOutputWithPooling(pooler_output=feats)})
    return out.last_hidden_state


def loss(model, pixels: torch.Tensor, b: Batch, feats: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over the whole vocabulary on every answer token (so P(Yes) is calibrated),
    averaged per sequence first: a yes/no answer weighs as much as a three-box localisation."""
    h = hidden_states(model, pixels, b, feats)
    where = b.targets != -100
    logits = model.lm_head(h[where])
    per_token = F.cross_entropy(logits.float(), b.targets[where], reduction="none")
    row = where.nonzero()[:, 0]
    per_seq = torch.zeros(len(where), device=h.device).index_add_(0, row, per_token)
    return (per_seq / where.sum(1).clamp(min=1)).mean()


@torch.no_grad()
def p_yes(model, pixels: torch.Tensor, b: Batch, yes_id: int) -> torch.Tensor:
    """P("Yes") at the last position, softmax over the whole vocabulary (what VQAScore reads)."""
    h = hidden_states(model, pixels, b)[:, -1]
    return model.lm_head(h).float().softmax(-1)[:, yes_id]
