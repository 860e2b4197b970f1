"""What every loader produces: a prompt, two images and which one people preferred.

Images stay as bytes or paths until a judge needs them, so a streamed pair costs only its own
bytes; decoding happens once per pair, on the worker thread that judges it.
"""
from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from evals.critic_eval.errors import DatasetError

# Human (and predicted) labels, always from the point of view of the pair as stored: image a or b.
A, B, TIE = "a", "b", "tie"
LABELS = (A, B, TIE)


class ImageRef:
    """One image: in-memory bytes (parquet cells) or a file on disk, with where it came from."""

    __slots__ = ("data", "path", "source", "_digest")

    def __init__(self, *, data: bytes | None = None, path: Path | None = None, source: str = ""):
        if (data is None) == (path is None):
            raise ValueError("an ImageRef holds either bytes or a path")
        self.data = data
        self.path = path
        self.source = source  # "file, row N, column" for error messages
        self._digest: str | None = None

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise DatasetError(self.path, f"cannot read image ({exc.strerror or exc}); referenced from "
                               f"{self.source}") from exc

    def digest(self) -> str:
        """Content hash: the cache key part that makes a renamed or re-encoded file a new image."""
        if self._digest is None:
            self._digest = hashlib.sha256(self.read_bytes()).hexdigest()[:32]
        return self._digest

    def open(self) -> Image.Image:
        try:
            with Image.open(io.BytesIO(self.read_bytes())) as im:
                return im.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            what = str(self.path) if self.path else "image bytes"
            raise DatasetError(self.source or what, f"cannot decode {what} as an image ({exc})") from exc

    def __repr__(self) -> str:
        what = self.path if self.path is not None else f"{len(self.data or b'')} bytes"
        return f"ImageRef({what})"


@dataclass
class Pair:
    """Two images for one prompt and the human label: ``a``, ``b`` or ``tie``.

    ``group`` is the unit the bootstrap resamples and the validation/test split assigns (the prompt,
    or the dataset's prompt id). ``margins`` are per-annotator preferences for ``a`` (positive: a is
    better), kept where the dataset publishes individual annotations, for the human ceiling.
    """

    prompt: str
    a: ImageRef
    b: ImageRef
    human: str
    group: str
    source: str
    margins: tuple[float, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    _images: tuple[Image.Image, Image.Image] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.human not in LABELS:
            raise ValueError(f"human label must be one of {LABELS}, not {self.human!r}")

    def images(self) -> tuple[Image.Image, Image.Image]:
        """Both images decoded, once, however many critics judge the pair."""
        with self._lock:
            if self._images is None:
                self._images = (self.a.open(), self.b.open())
            return self._images

    def release(self) -> None:
        """Drop the decoded images once every critic is done with the pair."""
        with self._lock:
            self._images = None


def swap(pair: Pair) -> Pair:
    """The same comparison stored the other way round (a <-> b), label and margins flipped."""
    human = {A: B, B: A, TIE: TIE}[pair.human]
    return Pair(prompt=pair.prompt, a=pair.b, b=pair.a, human=human, group=pair.group, source=pair.source,
                margins=tuple(-m for m in pair.margins), meta=dict(pair.meta, swapped=True))
