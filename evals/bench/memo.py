"""Images a noise sweep would make twice, made once.

Every level of a sweep runs the same briefs with the same seeds: best-of-n draws the same B
samples whatever critic picks among them, every method's first image is the same txt2img, and the
agent's early steps repeat until its critic first answers differently. The engine is deterministic
(fresh seeded generators per call), so a call with the same arguments gives the same images;
:class:`SharedImages` keeps them and answers a repeated call from memory. Compute matching is
untouched: each method's counting proxy wraps this one and counts every image it asks for, made or
remembered. Only the clock sees the difference (a remembered image costs no engine seconds), which
is why a sweep reports its hits beside its timings.
"""
from __future__ import annotations

import copy
import json
from collections import OrderedDict
from typing import Any

from PIL import Image
from pydantic import BaseModel

from tools.engine.images import image_hash

TASKS = ("txt2img", "img2img", "inpaint", "variations")


class _Uncacheable(Exception):
    pass


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for an argument: images by content hash, models by their fields."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Image.Image):
        return {"image": image_hash(value), "mode": value.mode, "size": value.size}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise _Uncacheable(type(value).__name__)


class SharedImages:
    """Forwards everything to ``engine``; the image tools remember their results by their arguments."""

    def __init__(self, engine: Any, max_bytes: int = 512 * 2**20):
        self._engine = engine
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        if name in TASKS:
            return lambda *args, **kwargs: self._call(name, args, kwargs)
        return getattr(self._engine, name)

    def _call(self, task: str, args: tuple, kwargs: dict[str, Any]):
        try:
            key = json.dumps([task, _plain(list(args)), _plain(kwargs)], sort_keys=True)
        except _Uncacheable:
            return getattr(self._engine, task)(*args, **kwargs)
        if key in self._cache:
            self.hits += 1
            self._cache.move_to_end(key)
            return copy.deepcopy(self._cache[key][0])  # a caller may change what it gets
        record = getattr(self._engine, task)(*args, **kwargs)
        self.misses += 1
        size = sum(im.width * im.height * len(im.getbands()) for im in record.images)
        if size <= self.max_bytes:
            self._cache[key] = (copy.deepcopy(record), size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._bytes -= dropped
        return record
