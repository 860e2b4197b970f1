"""sculpt's settings: defaults < config file < environment (SCULPT_*) < command-line flags.

The config file is ``sculpt.toml`` in the working directory, or the file SCULPT_CONFIG names.
The OpenAI-compatible critic reads its own keys (OPENAI_BASE_URL, OPENAI_API_KEY, ...) through
agent/vlm/settings.py; nothing here ever stores or prints a key.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from agent.spec import SHAPES_MODEL, RunSpec, read_spec
from tools.errors import InputError


def config_path() -> Path:
    return Path(os.environ.get("SCULPT_CONFIG", "sculpt.toml"))


class SculptSettings(BaseSettings):
    # An unknown key in sculpt.toml is an error that names it: a misspelt setting silently ignored
    # would run something other than what the person wrote.
    model_config = SettingsConfigDict(env_prefix="SCULPT_", extra="forbid")

    model: str = Field(SHAPES_MODEL, description="diffusers folder, single file or hub id; 'shapes' = built in")
    critic: str = Field("scene", description="critic spec: scene, openai:MODEL, scripted:PATH")
    critic_base_url: str | None = Field(None, description="base URL of an OpenAI-compatible server")
    # ``[critic_options]`` in sculpt.toml, SCULPT_CRITIC_OPTIONS as JSON, --critic-option KEY=VALUE
    critic_options: dict[str, Any] = Field(default_factory=dict, description="the critic's own settings")
    localiser: str | None = Field(None, description="hf:PATH_OR_ID: finds the objects requirements name")
    rewriter: str = Field("auto", description="rules, keep, openai:MODEL; auto picks by critic")
    budget: int = Field(8, description="generator calls (images) per run")
    max_seconds: float | None = None
    max_usd: float | None = None
    max_tokens: int | None = None
    runs_dir: Path = Path("runs")
    device: str = "auto"
    dtype: str = "auto"
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None  # image size for txt2img; None: the model's native size
    height: int | None = None
    scheduler: str | None = None
    cpu_offload: bool = False
    model_configs: str | None = None
    # The agent's decision rules (agent/policy/config.py), e.g. a [policy] table with retries = 2.
    policy: dict[str, Any] = Field(default_factory=dict)
    # Read by the server critic and rewriter (agent/vlm/settings.py), not here.
    vlm: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def run_spec(s: SculptSettings, brief: str, *, seed: int = 0, mode: str = "auto", follow_critic: bool = False,
             inpaint_guide: bool = True, start_image: str | None = None, allow_fresh: bool = False) -> RunSpec:
    """The RunSpec these settings describe: one place, so every command honours the same settings."""
    policy: dict = dict(s.policy)
    if follow_critic:
        policy["follow_critic"] = True
    if allow_fresh:  # a run from the person's own picture may start over (policy/person.py)
        policy["allow_fresh"] = True
    if not inpaint_guide:
        policy["inpaint_guide"] = False
    return read_spec({
        "brief": brief, "start_image": start_image, "model": s.model, "critic": s.critic,
        "critic_options": critic_options_of(s), "localiser": s.localiser, "rewriter": s.rewriter,
        "budget": {"generations": s.budget, "seconds": s.max_seconds, "usd": s.max_usd, "tokens": s.max_tokens},
        "seed": seed, "mode": mode,
        "engine": {"device": s.device, "dtype": s.dtype, "scheduler": s.scheduler, "cpu_offload": s.cpu_offload,
                   "model_configs": s.model_configs},
        "generation": {"steps": s.steps, "guidance": s.guidance, "width": s.width, "height": s.height},
        "policy": policy,
    }, f"settings ({config_path()}, SCULPT_* variables and flags)")


def critic_options_of(s: SculptSettings) -> dict[str, Any]:
    """The critic's options: the config's and flags' ``critic_options``, with ``--critic-base-url``
    as the shorthand it is for ``base_url=``."""
    return {**s.critic_options, **({"base_url": s.critic_base_url} if s.critic_base_url else {})}


def parse_options(values: list[str] | None, flag: str = "--critic-option") -> dict[str, str] | None:
    """``["mode=judge", "threshold=0.6"]`` -> ``{"mode": "judge", "threshold": "0.6"}`` (None when no
    flag was given). Values stay text: each critic reads them with its own types. A later flag
    overrides an earlier one with the same key."""
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        key, eq, text = value.partition("=")
        if not eq or not key.strip():
            raise InputError(f"{flag} takes KEY=VALUE (e.g. {flag} mode=judge), got {value!r}")
        out[key.strip()] = text.strip()
    return out


def changed_options(values: list[str] | None, base_url: str | None) -> dict[str, str] | None:
    """The options a resume changes: its --critic-option flags and --critic-base-url (None: none)."""
    options = {**(parse_options(values) or {}), **({"base_url": base_url} if base_url else {})}
    return options or None


def load_settings(**overrides) -> SculptSettings:
    """Settings with command-line overrides (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return SculptSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            known = ", ".join(k for k in SculptSettings.model_fields)
            raise InputError(f"{config_path()}: unknown key {where!r}; remove it or check its spelling (known keys: "
                             f"{known})") from None
        raise InputError(f"setting {where}: {first['msg']} (check {config_path()} and SCULPT_* variables)") from None
