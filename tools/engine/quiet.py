"""Silence the loading bars and warnings of diffusers and transformers.

sculpt shows its own progress; per-component loading bars would bury it. Called by entry points
(the CLI, eval scripts), never on import, so embedding applications keep their own settings.
"""
from __future__ import annotations


def quiet_libraries() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
