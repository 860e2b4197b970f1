"""A structured-reply client for one model at an OpenAI-compatible server, from options.

The critic (``openai:MODEL``) and the rewriter (``openai:MODEL``) both start here, so settings,
keys and the transport are set up one way: options (flags, the run spec's ``critic_options``) over
environment over config file (:mod:`agent.vlm.settings`).
"""
from __future__ import annotations

from typing import Any

from agent.vlm.settings import load_vlm_settings, redact_url
from agent.vlm.structured import StructuredClient
from agent.vlm.transport import ChatTransport


def openai_client(model: str, *, base_url: str | None = None, **options: Any) -> StructuredClient:
    """The client for ``model``; ``options`` are :class:`agent.vlm.settings.VLMSettings` fields
    (an unknown one is an InputError naming the known ones)."""
    settings = load_vlm_settings(base_url=base_url, **options)
    return StructuredClient(ChatTransport(model, settings), settings)


def describe_server(client: StructuredClient) -> str:
    """Where a client's requests go, safe to print (no credentials)."""
    return redact_url(client.transport.url)


__all__ = ["openai_client", "describe_server"]
