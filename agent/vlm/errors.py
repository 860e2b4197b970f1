"""What a model client raises: neutral errors that critics and rewriters translate into their own.

A critic turns them into ``CriticUnavailable``/``CriticReplyError`` (exit code 4, the run stops
cleanly); the rewriter into ``RewriterError`` (the action goes ahead with the current prompt). Every
error carries what the attempts cost, so a failed call is still charged to the run.
"""
from __future__ import annotations

from agent.contracts import Usage
from tools.errors import SculptError, Unreachable


class ModelError(SculptError):
    """The model gave no usable answer. ``usage`` is what the attempts cost."""

    def __init__(self, message: str, *, usage: Usage | None = None, last_reply: str | None = None):
        super().__init__(message)
        self.usage = usage or Usage()
        self.last_reply = last_reply


class ModelUnavailable(ModelError, Unreachable):
    """The model could not be reached or run (connection, timeouts, server errors after the retries,
    out of memory on the device)."""


class ModelReplyError(ModelError):
    """The model answered, but not usably (invalid JSON, schema violations, refusal, empty), even
    after being re-asked with the error."""


class FormatRejected(ModelUnavailable):
    """The server refused the response_format it was sent (the caller falls back to a simpler one)."""


class ImageTooLarge(ModelUnavailable):
    """The server refused an image as too large (the caller resends it smaller)."""
