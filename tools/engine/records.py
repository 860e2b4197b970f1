"""What every engine call returns: the images and everything needed to reproduce them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights made an image: the source as given, and a revision or content fingerprint."""

    source: str  # local path or hub id, as the user gave it
    kind: str  # "folder" | "single-file" | "hub"
    revision: str  # hub commit, or a fingerprint of the local files
    pipeline: str  # the diffusers pipeline class that serves txt2img

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class GenerationRecord:
    """One engine call: image(s), seed(s), every parameter, model identity, device, dtype, time."""

    task: str  # txt2img | img2img | inpaint | variations
    images: list[Image.Image]
    seeds: list[int]
    params: dict[str, Any]
    model: ModelIdentity
    device: str
    dtype: str
    wall_time: float
    # In-memory by-products (the inpaint masks): useful to the caller, not part of the metadata.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> Image.Image:
        return self.images[0]

    def metadata(self, index: int = 0) -> dict[str, Any]:
        """JSON-able description of image ``index``: enough to make it again."""
        return {
            "task": self.task,
            "seed": self.seeds[index],
            "index": index,
            "batch_seeds": self.seeds,
            "params": self.params,
            "model": self.model.to_dict(),
            "device": self.device,
            "dtype": self.dtype,
            "wall_time": round(self.wall_time, 4),
        }
