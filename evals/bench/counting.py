"""Compute matching: an engine proxy that counts images and refuses to go over a budget.

Every method gets its own proxy for each brief, all wrapping the one loaded engine. The unit is
the image, not the call: a batched ``variations`` call of n images costs n. The check happens
before the engine runs, so a method that would overspend raises instead of wasting the compute,
and nothing it was not entitled to can end up in its results.
"""
from __future__ import annotations

import time
from typing import Any

from evals.bench.errors import BudgetExceeded


class CountingEngine:
    """Forwards everything to ``engine``; the four image tools are counted against ``budget``."""

    def __init__(self, engine: Any, budget: int, label: str = "method"):
        self._engine = engine
        self.budget = int(budget)
        self.label = label
        self.used = 0
        self.calls: list[dict[str, Any]] = []  # one entry per engine call, in order
        self.engine_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the proxy does not define: identity, native_size, default_steps,
        # pipeline(...), so code written for the engine works unchanged on the proxy.
        return getattr(self._engine, name)

    def __repr__(self) -> str:
        return f"CountingEngine({self.label}: {self.used}/{self.budget} images)"

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def _call(self, task: str, images: int, args: tuple, kwargs: dict[str, Any]):
        if self.used + images > self.budget:
            raise BudgetExceeded(
                f"{self.label} asked for {images} more image(s) with {self.used} of its budget of "
                f"{self.budget} already used; every method gets the same number of images, so it must "
                "stop or ask for fewer", budget=self.budget, used=self.used, requested=images)
        t0 = time.perf_counter()
        record = getattr(self._engine, task)(*args, **kwargs)
        seconds = time.perf_counter() - t0
        made = len(record.images)
        self.used += made
        self.engine_seconds += seconds
        self.calls.append({"task": task, "images": made, "seeds": list(record.seeds), "seconds": seconds})
        return record

    def txt2img(self, *args, **kwargs):
        return self._call("txt2img", 1, args, kwargs)

    def img2img(self, *args, **kwargs):
        return self._call("img2img", 1, args, kwargs)

    def inpaint(self, *args, **kwargs):
        return self._call("inpaint", 1, args, kwargs)

    def variations(self, image, prompt, n, *args, **kwargs):
        # n is checked by the engine itself; a bad n must fail there, not be counted here.
        count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
        return self._call("variations", count, (image, prompt, n, *args), kwargs)
