"""Settings of the model critic and rewriter that talk to an OpenAI-compatible server.

Precedence, highest first: keyword options (CLI flags), environment variables, the config file
(TOML or JSON, named by ``config_file=`` or ``SCULPT_VLM_CONFIG``; else the ``[vlm]`` table of
sculpt's own ``sculpt.toml`` / ``SCULPT_CONFIG``), the defaults below.

Environment: ``OPENAI_BASE_URL`` / ``SCULPT_VLM_BASE_URL``, ``OPENAI_API_KEY`` /
``SCULPT_VLM_API_KEY``, and ``SCULPT_VLM_<FIELD>`` for every other field (``SCULPT_VLM_TIMEOUT=30``,
``SCULPT_VLM_PRICES='{"my-model": {"input": 1, "output": 2}}'``). In a config file the keys are the
field names, at the top level or under a ``[vlm]`` table.
"""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from agent.vlm.pricing import DEFAULT_PRICES, Price
from tools.errors import InputError

OPENAI_URL = "https://api.openai.com/v1"

StructuredMode = Literal["auto", "json_schema", "json_object", "text"]
BoxFormat = Literal["auto", "unit", "thousand", "pixels"]


class VLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCULPT_VLM_", extra="forbid", validate_by_name=True,
                                      validate_by_alias=True, env_parse_none_str="none")

    base_url: str | None = Field(None, validation_alias=AliasChoices("SCULPT_VLM_BASE_URL", "OPENAI_BASE_URL"))
    # SecretStr: the key prints as '**********' in every repr, error and dump.
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("SCULPT_VLM_API_KEY", "OPENAI_API_KEY"))
    config_file: Path | None = Field(None, validation_alias=AliasChoices("SCULPT_VLM_CONFIG"))

    timeout: float = Field(60.0, gt=0, description="seconds to wait for one reply")
    max_retries: int = Field(2, ge=0, description="the openai client's retries on 429/5xx/connection errors")
    reasks: int = Field(2, ge=0, description="times to re-ask after an unusable (invalid) reply")
    # None leaves it to the server: reasoning models accept no other value.
    temperature: float | None = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(2048, ge=16, description="completion tokens per reply")

    image_side: int = Field(768, ge=32, description="long side (px) images are downscaled to before sending")
    image_detail: Literal["auto", "low", "high"] = "auto"
    image_multiple: int = Field(0, ge=0, description="round sent sizes to a multiple (28 for Qwen-VL); 0: "
                                                     "by model family")
    box_format: BoxFormat = "auto"
    structured: StructuredMode = "auto"

    rewrite_vision: bool = Field(False, description="the rewriter also sees the current image")
    prices: dict[str, Price] = Field(default_factory=dict, description="USD per 1M tokens, merged over "
                                                                        "the built-in table")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {v!r}")
        return v

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        # The file's path is itself a setting (option or env), so the file source is built here.
        path = None
        if isinstance(init_settings, InitSettingsSource):
            kwargs = init_settings.init_kwargs  # keyed by the field's first alias
            path = kwargs.get("SCULPT_VLM_CONFIG") or kwargs.get("config_file")
        path = path or os.environ.get("SCULPT_VLM_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=read_config_file(Path(path))))
        elif (shared := Path(os.environ.get("SCULPT_CONFIG", "sculpt.toml"))).is_file():
            # sculpt's own config file may hold these settings too, in its [vlm] table.
            sources.append(InitSettingsSource(settings_cls, init_kwargs=read_config_file(shared, table_only=True)))
        return tuple(sources)

    # -- derived values --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.base_url or OPENAI_URL

    def price_table(self) -> dict[str, Price]:
        return {**DEFAULT_PRICES, **self.prices}

    def public(self) -> dict[str, Any]:
        """What may be shown or recorded: everything but the key (only whether one is set)."""
        out = self.model_dump(mode="json", exclude={"api_key", "prices"})
        out["base_url"] = redact_url(self.url)
        out["api_key_set"] = self.api_key is not None
        return out


def read_config_file(path: Path, table_only: bool = False) -> dict[str, Any]:
    """Settings from a TOML or JSON file: the ``[vlm]`` table when there is one, else the top level
    (unless ``table_only``: a file shared with other settings contributes its table or nothing)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"config file {path} does not exist; fix the path in config_file/SCULPT_VLM_CONFIG") \
            from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"config file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: "
                         f"{exc}") from exc
    section = data.get("vlm", {} if table_only else data)
    if not isinstance(section, dict):
        raise InputError(f"config file {path}: 'vlm' must be a table of settings")
    known = set(VLMSettings.model_fields) - {"config_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise InputError(f"config file {path}: unknown key(s) {unknown}; known keys: {', '.join(sorted(known))}")
    return dict(section)


def load_vlm_settings(**options: Any) -> VLMSettings:
    """Settings from options, environment and config file. Options set to None are left to the others."""
    options = {k: v for k, v in options.items() if v is not None}
    known = set(VLMSettings.model_fields)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option(s) for the model critic: {unknown}; known: {', '.join(sorted(known))}")
    try:
        return VLMSettings(**options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_input=False))
        raise InputError(f"invalid model-critic settings: {problems}") from None


def redact_url(url: str) -> str:
    """A base URL without any user:password part, safe to print."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
