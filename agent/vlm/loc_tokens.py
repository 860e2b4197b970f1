"""Boxes from a VLM that writes locations as tokens (PaliGemma's ``<loc0000>``..``<loc1023>``).

Asked ``detect {label}`` (in the agreed prompt format, agent/vlm/hf_vlm.py), such a model answers
``<locY0><locX0><locY1><locX1> label`` for each object, groups separated by `` ; ``, with
coordinates in 1024ths of the image's height and width. Every label is asked in one batched greedy
generation; an answer without a well-formed group is "nothing found".
"""
from __future__ import annotations

import re
import time

from PIL import Image

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
        out = self.vlm.model.generate(**inputs, do_sample=False, max_new_tokens=budget,
                                      pad_token_id=tokenizer.pad_token_id)
        n_in = inputs["input_ids"].shape[1]
        new = out[:, n_in:]
        answers = [tokenizer.decode(row, skip_special_tokens=False) for row in new.tolist()]
        produced = int((new != tokenizer.pad_token_id).sum())
        # One forward pass per generated position, for the whole batch.
        return answers, new.shape[1], int(inputs["attention_mask"].sum()), produced
