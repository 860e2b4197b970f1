"""What a benchmark run is: :class:`BenchConfig`, validated at the edge, and the command that repeats it.

The agent's rule settings (``--agent-policy KEY=VALUE,...``) are checked against the agent's own
:class:`agent.policy.PolicyConfig` here, before any model loads: an unknown key or a bad value is
an error that names it.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.settings import SHAPES_MODEL
from evals.bench.errors import BenchError
from evals.bench.methods import METHOD_NAMES, LoopbackOptions, known_methods
from evals.bench.methods.loopback import CURVES

DIFFICULTIES = (1, 2, 3)  # objects per brief
SWEEP_FILE = "sweep.json"  # a noise sweep's combined results (evals/bench/sweep.py)


@dataclass
class BenchConfig:
    briefs: int = 50  # per difficulty
    difficulties: tuple[int, ...] = (2,)
    budget: int = 8  # images per method and brief
    methods: tuple[str, ...] = METHOD_NAMES
    critic: str = "scene"  # the driving critic; results are always judged by the exact one
    critic_base_url: str | None = None
    critic_settings: dict[str, Any] = field(default_factory=dict)  # --critic-option KEY=VALUE
    localiser: str | None = None  # the agent's localiser (hf:PATH_OR_ID)
    seed: int = 0
    out: Path = Path("bench-out")
    model: str = SHAPES_MODEL
    steps: int | None = None  # None: the model's recommended steps
    loopback: LoopbackOptions = field(default_factory=LoopbackOptions)
    agent_policy: dict[str, Any] = field(default_factory=dict)  # PolicyConfig fields the agent runs with
    examples: int = 6  # agent trees shown in report.html
    show_progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.difficulties = tuple(self.difficulties)
        self.methods = tuple(self.methods)
        self.agent_policy = dict(self.agent_policy)

    def critic_options(self) -> dict[str, Any]:
        return {**self.critic_settings, **({"base_url": self.critic_base_url} if self.critic_base_url else {})}

    def critic_identity(self) -> str | dict[str, Any]:
        """What the driving critic is, for the settings digest: its spec, and its options and
        localiser when there are any (so results judged otherwise are never mixed in)."""
        if not self.critic_settings and not self.localiser:
            return self.critic
        return {"spec": self.critic, "options": dict(sorted(self.critic_settings.items())),
                "localiser": self.localiser}

    def validate(self) -> None:
        if self.briefs < 1:
            raise BenchError(f"--briefs must be at least 1, got {self.briefs}")
        bad = [d for d in self.difficulties if d not in DIFFICULTIES]
        if not self.difficulties or bad or len(set(self.difficulties)) != len(self.difficulties):
            raise BenchError(f"--difficulty takes distinct objects-per-brief counts from 1, 2, 3 "
                             f"(e.g. --difficulty 1,2,3), got {','.join(map(str, self.difficulties)) or 'none'}")
        if self.budget < 1:
            raise BenchError(f"--budget must be at least 1 image, got {self.budget}")
        unknown = [m for m in self.methods if m not in known_methods()]
        if not self.methods or unknown or len(set(self.methods)) != len(self.methods):
            raise BenchError(f"--methods takes distinct names from {', '.join(known_methods())}, got "
                             f"{','.join(self.methods) or 'none'}")
        if self.seed < 0:
            raise BenchError(f"--seed must be a whole number >= 0, got {self.seed}")
        if self.steps is not None and self.steps < 1:
            raise BenchError(f"--steps must be at least 1, got {self.steps}")
        lb = self.loopback
        for name, value in (("initial", lb.initial), ("final", lb.final)):
            if not 0 < value <= 1:
                raise BenchError(f"--loopback-{name} is a denoising strength in (0, 1], got {value}")
        if lb.curve not in CURVES:
            raise BenchError(f"--loopback-curve must be one of {', '.join(CURVES)}, got {lb.curve!r}")
        self.agent_policy = check_policy(self.agent_policy)
        if self.examples < 0:
            raise BenchError(f"--examples must be 0 or more, got {self.examples}")
        if self.out.exists() and not self.out.is_dir():
            raise BenchError(f"--out {self.out} is a file; give a folder (it is created if missing)")
        if (self.out / SWEEP_FILE).exists():
            raise BenchError(f"--out {self.out} holds a noise sweep ({SWEEP_FILE}); rerun it with its own "
                             "--critic-noise command, or give another --out")

    def command(self) -> str:
        """The full command line that reproduces this benchmark (every option spelled out)."""
        return shlex.join(["sculpt", "bench", *self.args(["--critic", self.critic])])

    def args(self, critic: list[str]) -> list[str]:
        """Every option, with ``critic`` (a noise sweep puts its own options there) after --methods."""
        parts = ["--briefs", str(self.briefs), "--difficulty", ",".join(map(str, self.difficulties)),
                 "--budget", str(self.budget), "--methods", ",".join(self.methods), *critic,
                 "--seed", str(self.seed), "--out", str(self.out), "--model", self.model]
        if self.steps is not None:
            parts += ["--steps", str(self.steps)]
        if self.critic_base_url:
            parts += ["--critic-base-url", self.critic_base_url]
        for key, value in self.critic_settings.items():
            parts += ["--critic-option", f"{key}={value}"]
        if self.localiser:
            parts += ["--localiser", self.localiser]
        lb = self.loopback
        parts += ["--loopback-initial", f"{lb.initial:g}", "--loopback-final", f"{lb.final:g}",
                  "--loopback-curve", lb.curve]
        if self.agent_policy:
            parts += ["--agent-policy", format_policy(self.agent_policy)]
        if self.examples != BenchConfig.examples:
            parts += ["--examples", str(self.examples)]
        return parts


def parse_policy(text: str | None) -> dict[str, Any]:
    """``KEY=VALUE[,KEY=VALUE...]`` -> the validated PolicyConfig fields it names."""
    values: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key or not value.strip():
            raise BenchError(f"--agent-policy takes KEY=VALUE pairs separated by commas (e.g. "
                             f"--agent-policy retries=1,follow_critic=false), got {part.strip()!r}")
        if key in values:
            raise BenchError(f"--agent-policy sets {key!r} twice")
        values[key] = value.strip()
    return check_policy(values)


def check_policy(values: dict[str, Any]) -> dict[str, Any]:
    """The agent's rule settings checked by PolicyConfig itself; values come back typed (0.50 -> 0.5)."""
    from agent.policy import PolicyConfig

    fields = PolicyConfig.model_fields
    unknown = sorted(k for k in values if k not in fields)
    if unknown:
        raise BenchError(f"--agent-policy: unknown setting {', '.join(map(repr, unknown))}; the agent's policy "
                         f"settings are {', '.join(fields)} (agent/policy/config.py)")
    try:
        cfg = PolicyConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        got = f" (got {values[key]!r})" if key in values else ""
        raise BenchError(f"--agent-policy {key or 'settings'}: {first['msg']}{got}") from None
    return {k: getattr(cfg, k) for k in sorted(values)}


def format_policy(policy: dict[str, Any]) -> str:
    return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(policy.items()))
