"""An open-vocabulary detector on this machine (OWLv2, Grounding DINO, OmDet-Turbo): boxes for the
objects a checklist names, through ``AutoModelForZeroShotObjectDetection`` and the processor's own
``post_process_grounded_object_detection``.

OWL-style models take every label as a query of one image in one pass; the others read one text
prompt per image, so each label gets its own row of a batch (the same image repeated). Scores are
kept as the detector gives them (each model's default threshold applies): they are not
probabilities of the same thing across models.
"""
from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from agent.contracts import Usage
from agent.vlm.hf_loading import ZERO_SHOT_DETECTION, is_out_of_memory, load, out_of_memory
from agent.vlm.images import to_rgb
from agent.vlm.regions import Found, to_region

_ONE_PASS = ("owlv2", "owlvit")  # models whose processor takes several text queries per image


@dataclass
class Detector:
    name: str
    model: Any
    processor: Any
    lock: threading.Lock = field(default_factory=threading.Lock)  # one call at a time on the device

    def locate(self, image: Image.Image, labels: list[str]) -> tuple[dict[str, list[Found]], Usage]:
        """Every box above the detector's threshold for each label, surest first."""
        import torch

        t0 = time.perf_counter()
        image = to_rgb(image)
        w, h = image.size
        one_pass = self.model.config.model_type in _ONE_PASS
        rows = 1 if one_pass else len(labels)
        if one_pass:
            inputs = self.processor(images=[image], text=[labels], return_tensors="pt")
        else:
            inputs = self.processor(images=[image] * rows, text=[[label] for label in labels], padding=True,
                                    return_tensors="pt")
        inputs = {k: v.to(self.model.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        try:
            with self.lock, torch.inference_mode():
                outputs = self.model(**inputs)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise out_of_memory(f"hf:{self.name}", self.model.device, "locating objects") from None
            raise
        results = self._post_process(outputs, inputs, [(h, w)] * rows, [labels] if one_pass else
                                     [[label] for label in labels])
        found: dict[str, list[Found]] = {label: [] for label in labels}
        for row, result in enumerate(results):
            raw = result.get("labels")
            indices = raw.tolist() if hasattr(raw, "tolist") else list(raw or [])
            for i, (box, score) in enumerate(zip(result["boxes"].tolist(), result["scores"].tolist())):
                index = indices[i] if i < len(indices) else None
                # OWL numbers its queries; the others answer the one label of their row.
                label = labels[index] if one_pass and isinstance(index, int) and index < len(labels) else labels[row]
                region = to_region(box, "pixels", (w, h))
                if region is not None:  # a box that is empty inside the image is no place
                    found[label].append(Found(region=region, score=float(score)))
        tokens = int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else 0
        return ({k: sorted(v, key=lambda f: -f.score) for k, v in found.items()},
                Usage(calls=1, input_tokens=tokens, seconds=time.perf_counter() - t0))

    def _post_process(self, outputs, inputs, sizes, text_labels):
        fn = self.processor.post_process_grounded_object_detection
        accepted = inspect.signature(fn).parameters
        kwargs = {"target_sizes": sizes}
        if "text_labels" in accepted:
            kwargs["text_labels"] = text_labels
        if "input_ids" in accepted and "input_ids" in inputs:
            kwargs["input_ids"] = inputs["input_ids"]
        return fn(outputs, **kwargs)


def load_detector(name: str, device: str = "auto", dtype: str = "auto") -> Detector:
    return load(ZERO_SHOT_DETECTION, name, device, dtype, lambda model, processor: Detector(name, model, processor))
