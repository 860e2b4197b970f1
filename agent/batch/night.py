"""The night's budgets, on top of each brief's own: when one is reached no new brief starts, the
running ones finish, and the report says what was left undone and why.

Dollars and images count everything the batch folder has spent (briefs finished by an earlier,
interrupted command included: rerunning does not buy a fresh night); seconds count this command's
wall time, since a rerun is a new night's attempt.
"""
from __future__ import annotations

from dataclasses import dataclass

from tools.errors import InputError

# Why no new brief starts once one brief found the critic unreachable (every way of running a night).
CRITIC_DOWN = "the critic could not be reached; run the same command again once it is back"


@dataclass(frozen=True)
class Spent:
    usd: float = 0.0
    images: int = 0
    seconds: float = 0.0

    def __add__(self, other: "Spent") -> "Spent":
        return Spent(self.usd + other.usd, self.images + other.images, max(self.seconds, other.seconds))


def spent_by(entry: dict) -> Spent:
    """What one brief has spent so far (a manifest entry, or a running brief's tree.json spend)."""
    return Spent(usd=float(entry.get("usd") or 0.0), images=int(entry.get("generations") or 0))


@dataclass(frozen=True)
class NightBudget:
    usd: float | None = None
    seconds: float | None = None
    images: int | None = None

    def __post_init__(self):
        for name in ("usd", "seconds", "images"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InputError(f"--total-{name} must be above 0, not {value}")

    def limits(self) -> dict[str, float]:
        return {k: v for k, v in (("usd", self.usd), ("seconds", self.seconds), ("images", self.images))
                if v is not None}

    def reached(self, spent: Spent) -> str | None:
        """Why no further brief may start, or None while every budget has room left."""
        if self.usd is not None and spent.usd >= self.usd:
            return f"night budget of ${self.usd:g} reached (${spent.usd:.2f} spent)"
        if self.images is not None and spent.images >= self.images:
            return f"night budget of {self.images} image{'s' * (self.images != 1)} reached ({spent.images} made)"
        if self.seconds is not None and spent.seconds >= self.seconds:
            return f"night budget of {self.seconds:g} s reached ({spent.seconds:.0f} s)"
        return None
