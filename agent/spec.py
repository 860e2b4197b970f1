"""A run's spec: everything that defines a run, typed, read once and written to run.json.

Every surface builds one (the CLI from flags, config file and environment via agent/settings.py;
the studio from its page; the benchmark and batches from their own options) and the run lifecycle
stores it in run.json, so a resumed run is rebuilt from exactly what started it. A bad or unknown
value, from any of them, is an InputError that names the key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.policy.config import MAX_IMAGES, Budget, PolicyConfig
from tools.errors import InputError

SHAPES_MODEL = "shapes"  # the built-in shapes model shipped in tools/shapes/weights
# Denoising steps: the schedulers' training timesteps (1000 for every family sculpt loads); diffusers
# refuses more steps than the scheduler has timesteps, so a run asking for more could make nothing.
MAX_STEPS = 1000
MAX_SEED = 2**62  # below the engine's 2**63-1, leaving room for the seeds a run draws after it


class SpecError(InputError):
    """A bad value in a run's spec; ``key`` names it as a dotted path ("budget.generations"), so a
    page can show the message next to the field it came from."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


# What a person may give each number a surface asks for, as the spec's own types check it (the
# CLI's flags, the studio's fields and run.json are all read through RunSpec): shown beside a field,
# never checked a second time. (low, high, whether low itself is allowed.)
LIMITS: dict[str, tuple[float, float | None, bool]] = {
    "budget.generations": (0, MAX_IMAGES, False), "budget.seconds": (0, None, False),
    "budget.usd": (0, None, False), "seed": (0, MAX_SEED, True), "generation.steps": (1, MAX_STEPS, True),
    "strength": (0, 1, False),  # an edit's strength (agent/contracts.Action), and at least one denoising step
}


class EngineSettings(BaseModel):
    """How the checkpoint is loaded."""

    model_config = ConfigDict(extra="forbid")

    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    dtype: str = "auto"  # auto, float32, float16, bfloat16
    scheduler: str | None = None
    cpu_offload: bool = False
    model_configs: str | None = None  # a diffusers folder whose configs a single-file checkpoint uses


class GenerationSettings(BaseModel):
    """Sampling settings for every image; None: the checkpoint's recommended or the engine's default."""

    model_config = ConfigDict(extra="forbid")

    steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    guidance: float | None = Field(None, ge=0)
    width: int | None = Field(None, ge=8)
    height: int | None = Field(None, ge=8)


class InpaintSettings(BaseModel):
    """How a region becomes a mask: padding around the box and a feathered edge."""

    model_config = ConfigDict(extra="forbid")

    pad: float = Field(0.02, ge=0, lt=0.5)  # share of the image side added around each region
    feather: float = Field(1.5, ge=0)  # pixels of soft edge


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: str
    start_image: str | None = None  # the person's own image to refine (path; copied into the run folder)
    model: str = SHAPES_MODEL
    critic: str = "scene"
    critic_options: dict[str, Any] = Field(default_factory=dict)  # never secrets: a key stays in the env
    localiser: str | None = None  # hf:PATH_OR_ID: boxes for the objects requirements name
    rewriter: str = "auto"
    budget: Budget = Field(default_factory=Budget)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    mode: Literal["auto", "chat"] = "auto"
    engine: EngineSettings = Field(default_factory=EngineSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    inpaint: InpaintSettings = Field(default_factory=InpaintSettings)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)

    @field_validator("brief")
    @classmethod
    def _brief(cls, v: str) -> str:
        if not v.strip():
            raise ValueError('the brief is empty; describe the picture you want, e.g. "a red circle to the left '
                             'of a blue square, yellow background"')
        return v

    @field_validator("critic_options")
    @classmethod
    def _no_secrets(cls, v: dict[str, Any]) -> dict[str, Any]:
        secret = [k for k in v if k.lower() in ("api_key", "key", "secret", "password")]
        if secret:
            raise ValueError(f"critic options {secret} look like secrets; put keys in the environment "
                             "(OPENAI_API_KEY or SCULPT_VLM_API_KEY), never in a run's spec")
        return v

    def rewriter_spec(self) -> str:
        """The rewriter 'auto' stands for: the critic's own model when it is one, else the rules."""
        if self.rewriter != "auto":
            return self.rewriter
        return self.critic if self.critic.startswith("openai:") else "rules"

    def rewriter_options(self) -> dict[str, Any]:
        """The LLM rewriter shares the critic's server settings; options only a critic reads (an hf:
        critic's mode or device, an openai: critic's mode) are not the rewriter's."""
        if not self.rewriter_spec().startswith("openai:"):
            return {}
        from agent.vlm.settings import VLMSettings

        return {k: v for k, v in self.critic_options.items() if k in VLMSettings.model_fields}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def read_spec(data: Any, where: str) -> RunSpec:
    """A RunSpec from JSON-able data, or a SpecError naming the first bad key and where it was."""
    try:
        return RunSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{where}: {describe_error(exc)}", key=error_key(exc)) from None


def error_key(exc: ValidationError) -> str:
    return ".".join(str(p) for p in exc.errors()[0]["loc"])


def describe_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = error_key(exc) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key {key!r}; remove it or check its spelling"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{key}: {msg} (got {first.get('input')!r})"


def accepted_range(key: str) -> str:
    """The range ``LIMITS`` gives a number, in words: "1 to 10000", "more than 0, at most 1"."""
    low, high, closed = LIMITS[key]
    if isinstance(high, int) and high > 10**9:  # a seed: its ceiling is no help to read
        high = None
    if high is None:
        return f"{low:g} or more" if closed else f"more than {low:g}"
    if closed:
        return f"{low:g} to {high:g}"
    if isinstance(high, int) and high > 1:  # whole numbers: above 0 means from 1
        return f"{low + 1:g} to {high:g}"
    return f"more than {low:g}, at most {high:g}"


def spec_with(spec: RunSpec, **changes: Any) -> RunSpec:
    """A copy with some fields changed, validated again (``budget``/``policy`` may be dicts)."""
    return read_spec({**spec.to_json(), **{k: v for k, v in changes.items() if v is not None}}, "run spec")


def resolve_start_image(path: str | Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"the start image {p} does not exist; give the path of a PNG, JPEG or WebP file")
    return p
