"""One engine that loads a diffusers checkpoint once and serves every image tool the agent calls.

The names are imported on first use, so the engine's light modules (guides, masks, records) can be
used without importing torch and diffusers.
"""
from __future__ import annotations

import importlib

_NAMES = {"Engine": "tools.engine.engine", "GenerationRecord": "tools.engine.records",
          "ModelIdentity": "tools.engine.records"}
__all__ = list(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'tools.engine' has no attribute {name!r}")
