"""The answers of the test server's "model": the shapes world's exact critic, read off the request.

A request is identified by the marker line its system message starts with (``[sculpt critique@1]``);
the brief, checklist and other blocks are read from the delimited user message, and the images are
decoded from their data URLs. Answers are plain dicts in the JSON shape the prompts ask for, built
here independently of the client's pydantic models, as a real server's model would.
"""
from __future__ import annotations

import json
import re
from typing import Any

from PIL import Image

from agent.critics.scene import SceneCritic
from agent.vlm.images import decode
from agent.vlm.regions import from_region
from agent.vlm.templates import MARKER
from tools.contracts import Requirement
from tools.shapes.parse import parse_brief


class ParsedRequest:
    """What a chat-completions request asks: template, blocks of its first user message, images."""

    def __init__(self, body: dict):
        messages = body.get("messages") or []
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        marker = MARKER.match(system if isinstance(system, str) else "")
        self.kind = marker.group("name") if marker else None
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        parts = user if isinstance(user, list) else [{"type": "text", "text": user}]
        self.text = "\n".join(p["text"] for p in parts if p.get("type") == "text")
        self.image_parts = [p["image_url"] for p in parts if p.get("type") == "image_url"]
        self.images: list[Image.Image] = [decode(p["url"]).convert("RGB") for p in self.image_parts]
        self.reasks = sum(1 for m in messages if m.get("role") == "assistant")

    def block(self, tag: str) -> str | None:
        m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", self.text, re.S)
        return m.group(1) if m else None

    def json_lines(self, tag: str) -> list[dict]:
        return [json.loads(line) for line in (self.block(tag) or "").splitlines() if line.strip()]

    def json_value(self, tag: str) -> Any:
        block = self.block(tag)
        return json.loads(block) if block is not None else None


class ShapesWorld:
    """Answers every request kind from the exact critic. ``box_format`` is the convention boxes
    are written in; ``prefer`` makes pairwise judgements position-biased ("first" / "second")."""

    def __init__(self, box_format: str = "unit", prefer: str | None = None):
        self.box_format = box_format
        self.prefer = prefer
        self.scene = SceneCritic()
        # Briefs whose requirements a VQA question may name: every brief planned here, and any a test adds.
        self.briefs: list[str] = []

    def answer(self, req: ParsedRequest) -> dict:
        handler = getattr(self, f"_{req.kind}", None)
        if handler is None:
            raise ValueError(f"unknown request kind {req.kind!r}")
        return handler(req)

    # -- helpers ---------------------------------------------------------------------------------
    def _checklist(self, req: ParsedRequest, tag: str = "checklist") -> tuple[str, list[Requirement]]:
        brief = req.block("brief") or ""
        exact = {r.id: r for r in parse_brief(brief).requirements()}
        # The client sends ids and texts only; the exact specs come from parsing the brief again.
        return brief, [exact.get(item["id"]) or Requirement(id=item["id"], text=item["text"])
                       for item in req.json_lines(tag)]

    def _box(self, region, size) -> list[float] | None:
        return None if region is None else [round(v, 4) for v in from_region(region, self.box_format, size)]

    def _score(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> float:
        return self.scene.critique(image, brief, checklist).score

    # -- request kinds ---------------------------------------------------------------------------
    def p_yes(self, text: str, image: Image.Image) -> float:
        """VQAScore's P(yes) for ``Does this figure show "text"?``: a confident, right model (0.9 when
        the exact critic passes the requirement of a known brief with that text, 0.1 when it fails
        it); 0.5 for a text no known brief states."""
        for brief in reversed(self.briefs):
            for r in parse_brief(brief).requirements():
                if r.text == text:
                    return 0.9 if self.scene.critique(image, brief, [r]).all_passed else 0.1
        return 0.5

    def _plan(self, req: ParsedRequest) -> dict:
        self.briefs.append(req.block("brief") or "")
        plan = self.scene.plan(req.block("brief") or "")
        return {"checklist": [{"id": r.id, "text": r.text, "kind": r.kind, "group": r.group}
                              for r in plan.checklist],
                "prompt": plan.prompt, "negative_prompt": None, "notes": ""}

    def _critique(self, req: ParsedRequest) -> dict:
        brief, checklist = self._checklist(req)
        image = req.images[0]
        crit = self.scene.critique(image, brief, [r for r in checklist if r.spec])
        by_id = {v.id: v for v in crit.verdicts}
        verdicts = []
        for r in checklist:
            v = by_id.get(r.id)
            if v is None:
                verdicts.append({"id": r.id, "passed": False, "confidence": 0.0, "evidence": "cannot check",
                                 "box": None})
            else:
                verdicts.append({"id": v.id, "passed": v.passed, "confidence": v.confidence,
                                 "evidence": v.evidence, "box": self._box(v.region, image.size)})
        defects = [{"kind": d.kind, "description": d.description, "box": self._box(d.region, image.size),
                    "requirement_ids": d.requirement_ids, "prompt": d.prompt} for d in crit.defects]
        local = [d for d in crit.defects if d.region is not None]
        if crit.all_passed:
            rec = {"kind": "accept", "strength": None, "box": None, "prompt": None, "reason": "all pass"}
        elif local:
            rec = {"kind": "inpaint", "strength": None, "box": self._box(local[0].region, image.size),
                   "prompt": local[0].prompt, "reason": local[0].description}
        else:
            rec = {"kind": "rewrite_prompt", "strength": None, "box": None, "prompt": None,
                   "reason": "global failure"}
        return {"verdicts": verdicts, "score": crit.score, "defects": defects, "recommended": rec,
                "summary": crit.summary}

    def _compare(self, req: ParsedRequest) -> dict:
        brief, checklist = self._checklist(req)
        if self.prefer:
            return {"better": self.prefer, "reason": f"the {self.prefer} image looks better"}
        a, b = (self._score(im, brief, checklist) for im in req.images[:2])
        better = "first" if a > b else "second" if b > a else "tie"
        return {"better": better, "reason": f"scores {a:.2f} and {b:.2f}"}

    def _rank(self, req: ParsedRequest) -> dict:
        brief, checklist = self._checklist(req)
        scores = [self._score(im, brief, checklist) for im in req.images]
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        return {"order": [i + 1 for i in order], "scores": scores, "reason": "by checklist score"}

    def _drift(self, req: ParsedRequest) -> dict:
        brief = req.block("brief") or ""
        exact = {r.id: r for r in parse_brief(brief).requirements()}
        held = [exact[item["id"]] for item in req.json_lines("held")]
        after = self.scene.critique(req.images[1], brief, held)
        lost = after.failed_ids
        return {"lost": lost, "evidence": "; ".join(after.verdict(i).evidence for i in lost)}

    def _rewrite(self, req: ParsedRequest) -> dict:
        canonical = parse_brief(req.block("brief") or "").text()
        tried = {p.strip().casefold() for p in (req.json_value("tried") or [])}
        tried.add((req.block("current_prompt") or "").strip().casefold())
        extras = ["", ", flat colours, sharp edges", ", simple flat shapes, plain background", ", clean render"]
        for extra in extras:
            if (canonical + extra).casefold() not in tried:
                return {"prompt": canonical + extra, "negative_prompt": None, "reason": "restated the brief"}
        return {"prompt": f"{canonical}, take {len(tried) + 1}", "negative_prompt": None, "reason": "again"}

    def _region_prompt(self, req: ParsedRequest) -> dict:
        defect = req.json_value("defect") or {}
        brief = parse_brief(req.block("brief") or "")
        if defect.get("critic_suggestion"):
            prompt = defect["critic_suggestion"]
        else:
            background = f"{brief.background or 'white'} background"
            ids = [r["id"] for r in defect.get("requirements", [])]
            groups = [int(m.group(1)) for i in ids if (m := re.match(r"g(\d+)\.", i))]
            if defect.get("kind") == "remove" or not groups:
                prompt = background
            else:
                prompt = f"{brief.groups[groups[0]].model_copy(update={'count': 1, 'position': None}).phrase()}, " \
                         f"{background}"
        return {"prompt": prompt, "negative_prompt": None, "reason": "what belongs in the region"}


def shapes_scene(seed: int, n_objects: int = 2, size: int = 64, match: bool = True):
    """(brief text, rendered image, exact checklist) for a random brief. With ``match=False`` the
    image shows a different random brief, so some requirements fail."""
    import numpy as np

    from tools.shapes.render import render
    from tools.shapes.sample import random_brief

    rng = np.random.default_rng(seed)
    brief = random_brief(rng, n_objects)
    drawn = brief if match else random_brief(rng, n_objects)
    image, _ = render(drawn, rng, size=size)
    return brief.text(), image, brief.requirements()
