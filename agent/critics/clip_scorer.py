"""A scorer critic: a CLIP-style model (PickScore, HPS v2 in Hugging Face format, plain CLIP) that
scores each image against the brief; higher is better.

score(image, text) = exp(logit_scale) * cosine(image embedding, text embedding), the quantity
PickScore and HPS are trained to rank by. Two images tie when their scores differ by at most
``tie_threshold``. Scores do not depend on the order images are shown in, so ``compare`` asks once.

The model is loaded from a local folder only (``clip:PATH``); nothing is downloaded. The folder
holds a ``CLIPModel`` (``config.json`` and weights) and its processor (tokenizer and image
processor files), or the processor in a ``processor/`` subfolder: PickScore's model repository
ships without one, so save ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``'s processor next to it.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

from agent.contracts import Critique, Ranking, Requirement, Usage, Verdict
from agent.critics.base import Critic, Plan
from tools.errors import InputError, ModelLoadError
from tools.fingerprint import fingerprint

_OPTIONS = {"device", "tie_threshold", "pass_cosine"}


class ClipScorer(Critic):
    """Ranks images by scaled cosine similarity to the brief."""

    exact = False
    order_invariant = True

    def __init__(self, path: str | Path, *, device: str = "cpu", tie_threshold: float = 0.0,
                 pass_cosine: float = 0.2):
        import torch
        from transformers import CLIPModel, CLIPProcessor

        self.path = Path(path).expanduser()
        if tie_threshold < 0:
            raise InputError(f"tie_threshold must be 0 or more, got {tie_threshold}")
        if not self.path.is_dir():
            raise InputError(f"clip critic: {self.path} is not a local folder. Download the model first, e.g. "
                             f"`huggingface-cli download yuvalkirstain/PickScore_v1 --local-dir {self.path}`, "
                             "then pass clip:FOLDER")
        if not (self.path / "config.json").is_file():
            raise InputError(f"clip critic: {self.path} has no config.json; point clip:PATH at the folder a "
                             "CLIPModel was saved to (save_pretrained)")
        self.device = "cuda" if device == "auto" and torch.cuda.is_available() else (
            "cpu" if device == "auto" else device)
        self.tie_threshold = float(tie_threshold)
        self.pass_cosine = float(pass_cosine)
        try:
            self.model = CLIPModel.from_pretrained(self.path, local_files_only=True).to(self.device).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"clip critic: cannot load a CLIPModel from {self.path}: {exc}") from exc
        self.processor = self._load_processor(CLIPProcessor)
        self.max_length = int(self.model.config.text_config.max_position_embeddings)
        self.name = f"clip:{self.path.name}"
        self._fingerprint = fingerprint(self.path)
        # Fast tokenizers are not safe to call from several threads at once; one model call at a time.
        self._lock = threading.Lock()

    def _load_processor(self, cls: Any) -> Any:
        tried = []
        for folder in (self.path, self.path / "processor"):
            if not folder.is_dir():
                continue
            try:
                return cls.from_pretrained(folder, local_files_only=True)
            except (OSError, ValueError, TypeError, KeyError) as exc:
                tried.append(f"{folder}: {exc}")
        raise ModelLoadError(
            f"clip critic: no CLIP processor (tokenizer and image processor) in {self.path} or "
            f"{self.path / 'processor'} ({'; '.join(tried) or 'nothing found'}). Save the processor the "
            "model was trained with there, e.g. CLIPProcessor.from_pretrained("
            "'laion/CLIP-ViT-H-14-laion2B-s32B-b79K').save_pretrained(PATH) for PickScore")

    def scores(self, images: list[Image.Image], text: str) -> tuple[list[float], list[float]]:
        """Scaled cosine similarities of each image to the text, and the plain cosines."""
        import torch

        with self._lock:
            inputs = self.processor(text=[text], images=[im.convert("RGB") for im in images], return_tensors="pt",
                                    padding=True, truncation=True, max_length=self.max_length)
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            with torch.inference_mode():
                out = self.model(**inputs)
            scaled = out.logits_per_image[:, 0].float().cpu().tolist()
            scale = float(self.model.logit_scale.exp().item())
        return scaled, [s / scale for s in scaled]

    def plan(self, brief: str) -> Plan:
        return Plan(checklist=[Requirement(id="prompt", text=brief, kind="other")], prompt=brief,
                    notes="a scorer judges the whole prompt; it has no per-requirement checks")

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        t0 = time.perf_counter()
        texts = [brief] + [r.text for r in checklist]
        cosines = [self.scores([image], t)[1][0] for t in texts]
        # A similarity threshold is a weak proxy for "passed"; the confidence says so.
        verdicts = [Verdict(id=r.id, passed=c >= self.pass_cosine, confidence=0.5,
                            evidence=f"cosine {c:.3f} (pass at {self.pass_cosine})")
                    for r, c in zip(checklist, cosines[1:])]
        return Critique(verdicts=verdicts, score=min(1.0, max(0.0, cosines[0])), critic=self.name,
                        summary=f"cosine similarity to the brief {cosines[0]:.3f}",
                        usage=Usage(calls=len(texts), seconds=time.perf_counter() - t0))

    def rank(self, images: list[Image.Image], brief: str, checklist: list[Requirement],
             critiques: list[Critique] | None = None) -> Ranking:
        t0 = time.perf_counter()
        scaled, _ = self.scores(images, brief)
        order = sorted(range(len(images)), key=lambda i: (-scaled[i], i))
        tie = len(images) == 2 and abs(scaled[0] - scaled[1]) <= self.tie_threshold
        return Ranking(order=order, tie=tie, scores=scaled, critic=self.name,
                       usage=Usage(calls=1, seconds=time.perf_counter() - t0),
                       reason=f"scores {', '.join(f'{s:.3f}' for s in scaled)}"
                              + (f"; within the tie threshold {self.tie_threshold}" if tie else ""))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "exact": False, "path": str(self.path), "fingerprint": self._fingerprint,
                "tie_threshold": self.tie_threshold, "scorer": True}


def make_clip_critic(path: str, **options: Any) -> Critic:
    """``clip:PATH``: a CLIP-style scorer from a local folder. Options: device ("cpu", "cuda",
    "auto"), tie_threshold (score difference at or under which two images tie), pass_cosine."""
    if not path:
        raise InputError("the clip critic needs a local model folder: clip:PATH")
    from agent.critics.registry import SHARED_OPTIONS

    options = {k: v for k, v in options.items() if k not in SHARED_OPTIONS}  # no server to point at
    unknown = set(options) - _OPTIONS
    if unknown:
        raise InputError(f"unknown clip critic option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
    return ClipScorer(path, **options)
