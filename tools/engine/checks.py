"""Argument checks at the engine's edge: each refuses a bad value with what is expected."""
from __future__ import annotations

from tools.errors import InputError

MAX_SEED = 2**63 - 1


def check_prompt(prompt: object) -> None:
    if not isinstance(prompt, str):
        raise InputError(f"prompt must be text, not {type(prompt).__name__}")


def check_seed(seed: object) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    return seed


def check_strength(strength: object) -> float:
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0 < strength <= 1:
        raise InputError(f"strength must be in (0, 1] (0.3-0.6 keeps the layout, 0.75+ rebuilds it), "
                         f"got {strength!r}")
    return float(strength)


def check_denoising(strength: float, steps: int) -> None:
    # diffusers' SD pipelines run int(steps * strength) denoising steps; zero would return the input
    # unchanged. (Flow-matching pipelines round the other way and may run one step more.)
    if int(steps * strength) < 1:
        raise InputError(f"strength {strength:g} with {steps} steps runs no denoising step "
                         f"(int({steps} x {strength:g}) = 0); raise strength to at least {1 / steps:.3g} "
                         f"or steps to at least {int(1 / strength) + 1}")


def check_steps_guidance(steps: object, guidance: object) -> tuple[int, float]:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InputError(f"steps must be a whole number >= 1, got {steps!r}")
    if not isinstance(guidance, (int, float)) or isinstance(guidance, bool) or guidance < 0:
        raise InputError(f"guidance must be a number >= 0, got {guidance!r}")
    return steps, float(guidance)


def check_count(n: object, seeds: list[int] | None) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"n must be a whole number >= 1, got {n!r}")
    if seeds is not None and len(seeds) != n:
        raise InputError(f"got {len(seeds)} seeds for n={n} variations; give one seed per variation")
