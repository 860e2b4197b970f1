"""Errors of the critic evaluation. Library code raises them; only the CLI prints them."""
from __future__ import annotations

from pathlib import Path

from tools.errors import InputError, Unreachable


class CriticEvalError(InputError):
    """The evaluation was asked for something it cannot do: a bad option, critic or prompt."""


class DatasetError(CriticEvalError):
    """A dataset file, record or field is missing or malformed. The message names the file and row."""

    def __init__(self, file: str | Path, message: str, *, row: str | None = None):
        self.file = str(file)
        self.row = row
        where = f"{self.file}, {row}" if row else self.file
        super().__init__(f"{where}: {message}")


class EvaluationStopped(Unreachable):
    """The critic could not be reached; every finished judgement is cached, so a rerun resumes."""
