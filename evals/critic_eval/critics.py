"""Critics under evaluation: built from specs (anything ``make_critic`` accepts) or given as objects,
each with a stable identity that keys the judgement cache."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.critics.base import Critic
from agent.critics.registry import make_critic
from evals.critic_eval.errors import CriticEvalError


@dataclass
class EvalCritic:
    label: str  # unique name in reports: the spec, with "#2" appended to a repeated one
    critic: Critic
    identity: str  # canonical JSON; changes whenever the critic's answers could change
    prompt_version: str | None


def resolve_critics(specs: list[str | Critic], options: dict[str, Any] | None = None) -> list[EvalCritic]:
    if not specs:
        raise CriticEvalError("no critic to evaluate; pass --critic SPEC (e.g. --critic scene)")
    out: list[EvalCritic] = []
    seen: dict[str, int] = {}
    for spec in specs:
        critic = spec if isinstance(spec, Critic) else _build(spec, options or {})
        label = spec if isinstance(spec, str) else critic.name
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        version = getattr(critic, "prompt_version", None) or critic.describe().get("prompt_version")
        out.append(EvalCritic(label=label, critic=critic, identity=identity(spec, critic, options),
                              prompt_version=str(version) if version else None))
    return out


def _build(spec: str, options: dict[str, Any]) -> Critic:
    try:
        return make_critic(spec, **options)
    except ImportError as exc:
        raise CriticEvalError(f"the backend for critic {spec!r} is not available ({exc}); install its "
                              "dependencies or choose another critic") from exc


def identity(spec: str | Critic, critic: Critic, options: dict[str, Any] | None = None) -> str:
    """The critic's name and self-description, plus the content of a file its spec names (a script
    or config), or a wrapped critic's spec names, so editing that file invalidates cached judgements."""
    parts = {"name": critic.name, "describe": critic.describe(), "class": type(critic).__name__}
    if isinstance(spec, str):
        parts["spec"] = spec
        if options:  # only when given, so judgements cached without options keep their identity
            parts["options"] = {k: str(v) for k, v in sorted(options.items())}
        arg = spec.partition(":")[2]
        if arg and Path(arg).is_file():
            parts["file_sha256"] = hashlib.sha256(Path(arg).read_bytes()).hexdigest()
    inner = getattr(critic, "inner", None)
    if isinstance(inner, Critic):  # a wrapper (noisy:...): the file its wrapped spec names counts too
        parts["inner"] = json.loads(identity(getattr(critic, "inner_spec", inner), inner))
    return json.dumps(parts, sort_keys=True, default=str)
