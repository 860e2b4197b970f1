"""Boxes from a VLM that writes locations as tokens (PaliGemma's ``<loc0000>``..``<loc1023>``).

Asked ``detect {label}`` (in the agreed prompt format, agent/vlm/hf_vlm.py), such a model answers
``<locY0><locX0><locY1><locX1> label`` for each object, groups separated by `` ; ``, with
coordinates in 1024ths of the image's height and width. Every label is asked in one batched
generation; an answer without a well-formed group is "nothing found".

Plain greedy decoding reads boxes badly from a model that is unsure exactly where an edge is: its
probability is spread over neighbouring locations, so the single likeliest one loses to "none" and
nothing is found. ``LocationDecoding`` decides differently where locations are concerned: a box
starts where the locations *together* are more likely than not, and each coordinate is the median of
the model's distribution over locations. For a model sure of itself this is greedy decoding.
"""
from __future__ import annotations

import re
import time

import torch
from PIL import Image
from transformers import LogitsProcessor, LogitsProcessorList

from agent.contracts import Usage
from agent.vlm.hf_vlm import LOC_TOKENS, LocalVLM
from agent.vlm.regions import Found
from tools.contracts import Region

_GROUP = re.compile(r"((?:<loc\d{4}>){4})\s*([^;<]*)")
_LOC = re.compile(r"<loc(\d{4})>")
MOST_PER_LABEL = 4  # boxes one answer may hold (generation stops long before a longer list)


def detect_prompt(label: str) -> str:
    return f"detect {label.strip()}"


def parse_locations(text: str) -> list[tuple[str, Region]]:
    """(label, region) for each ``<loc><loc><loc><loc> label`` group of an answer."""
    out = []
    for group in text.split(";"):
        m = _GROUP.search(group)
        if m is None:
            continue
        y0, x0, y1, x1 = (min(int(v), LOC_TOKENS - 1) / LOC_TOKENS for v in _LOC.findall(m.group(1)))
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        if x1 > x0 and y1 > y0:
            out.append((m.group(2).strip(), Region(x0=x0, y0=y0, x1=x1, y1=y1)))
    return out


class LocationDecoding(LogitsProcessor):
    """Where an answer may start a box (its start, or after " ; "), start one if the location tokens
    together are likelier than anything else combined, else rule them out; inside a box, the next
    coordinate is the median location."""

    def __init__(self, tokenizer, prompt_length: int):
        vocab = tokenizer.get_vocab()
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.loc_ids = torch.tensor([vocab[f"<loc{i:04d}>"] for i in range(LOC_TOKENS)])
        self.is_loc = torch.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=torch.bool)
        self.is_loc[self.loc_ids] = True

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        loc_ids = self.loc_ids.to(scores.device)
        probs = scores.float().softmax(-1)[:, loc_ids]
        mass = probs.sum(-1)
        median = torch.searchsorted((probs / mass.clamp(min=1e-12)[:, None]).cumsum(-1).contiguous(),
                                    torch.full_like(mass[:, None], 0.5)).clamp(max=LOC_TOKENS - 1)[:, 0]
        out = scores.clone()
        for row, answer in enumerate(input_ids[:, self.prompt_length:].tolist()):
            trailing = 0
            while trailing < len(answer) and self.is_loc[answer[-1 - trailing]]:
                trailing += 1
            may_start = trailing == 0 and self._box_may_start(answer)
            if 0 < trailing < 4 or (may_start and mass[row] > 0.5):
                out[row] = float("-inf")
                out[row, loc_ids[median[row]]] = 0.0
            elif may_start:
                out[row, loc_ids] = float("-inf")
        return out

    def _box_may_start(self, answer: list[int]) -> bool:
        return not answer or self.tokenizer.decode(answer[-3:]).rstrip().endswith(";")


def location_decoding(tokenizer, prompt_length: int) -> LogitsProcessorList:
    return LogitsProcessorList([LocationDecoding(tokenizer, prompt_length)])


class LocTokenLocaliser:
    def __init__(self, vlm: LocalVLM):
        self.vlm = vlm
        self.name = f"hf:{vlm.name}"

    def locate(self, image: Image.Image, labels: list[str]) -> tuple[dict[str, list[Found]], Usage]:
        t0 = time.perf_counter()
        texts = [self.vlm.prompt(detect_prompt(label)) for label in labels]
        answers, passes, tokens_in, tokens_out = self.vlm.run("locating objects", self._generate, image, texts,
                                                              labels)
        found = {}
        for label, answer in zip(labels, answers):
            # The answer names what it found; a model asked for one label answers about that label.
            found[label] = [Found(region=r, score=1.0) for _name, r in parse_locations(answer)][:MOST_PER_LABEL]
        return found, Usage(calls=passes, input_tokens=tokens_in, output_tokens=tokens_out,
                            seconds=time.perf_counter() - t0)

    def _generate(self, image: Image.Image, texts: list[str], labels: list[str]) -> tuple[list[str], int, int, int]:
        tokenizer = self.vlm.tokenizer
        inputs = self.vlm.inputs([[image]] * len(texts), texts)
        longest = max(len(tokenizer.encode(label, add_special_tokens=False)) for label in labels)
        # Four location tokens, the label, " ; " between groups, then the end.
        budget = MOST_PER_LABEL * (4 + longest + 3) + 1
        n_in = inputs["input_ids"].shape[1]
        out = self.vlm.model.generate(**inputs, do_sample=False, max_new_tokens=budget,
                                      pad_token_id=tokenizer.pad_token_id,
                                      logits_processor=location_decoding(tokenizer, n_in))
        new = out[:, n_in:]
        answers = [tokenizer.decode(row, skip_special_tokens=False) for row in new.tolist()]
        produced = int((new != tokenizer.pad_token_id).sum())
        # One forward pass per generated position, for the whole batch.
        return answers, new.shape[1], int(inputs["attention_mask"].sum()), produced
