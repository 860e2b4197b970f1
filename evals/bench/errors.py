"""Errors of the benchmark. Library code raises them; only the CLI prints them."""
from __future__ import annotations

from tools.errors import InputError, InternalError, Unreachable


class BenchError(InputError):
    """The benchmark was asked for something it cannot do: a bad option, method or output folder."""


class BudgetExceeded(InternalError):
    """A method asked the engine for more images than its budget allows: compute matching failed."""

    def __init__(self, message: str, *, budget: int, used: int, requested: int):
        super().__init__(message)
        self.budget, self.used, self.requested = budget, used, requested


class BenchStopped(Unreachable):
    """The driving critic could not be reached; every finished result is on disk, so a rerun resumes."""
