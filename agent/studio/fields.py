"""The page's numbers, checked where the command line's are: by the run spec (agent/spec.py).

Every field shows the range the spec accepts beside it and gets its own message when a value is
refused — the spec's own verdict, asked one field at a time, so each field names its own problem.
No field has a Gradio minimum or maximum: those refuse a value before any handler sees it and turn
the whole page to "Error", with a message that does not say which field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.settings import SculptSettings, run_spec
from agent.spec import LIMITS, RunSpec, SpecError, accepted_range


@dataclass(frozen=True)
class Field:
    name: str  # the handler's argument and the settings key
    key: str  # the spec's key (agent/spec.LIMITS)
    words: str  # what the field is, in its label
    none_at_zero: bool = False  # 0 stands for "none" (no limit; the model's own steps)
    whole: bool = False

    @property
    def label(self) -> str:
        zero = {"budget.seconds": "0: no limit", "budget.usd": "0: no limit", "generation.steps": "0: the model's own"}
        extra = f"; {zero[self.key]}" if self.key in zero else ""
        return f"{self.words} ({accepted_range(self.key)}{extra})"


FIELDS = {f.name: f for f in (
    Field("budget", "budget.generations", "images", whole=True),
    Field("max_seconds", "budget.seconds", "seconds", none_at_zero=True),
    Field("max_usd", "budget.usd", "dollars", none_at_zero=True),
    Field("seed", "seed", "seed", whole=True),
    Field("steps", "generation.steps", "steps", none_at_zero=True, whole=True),
)}
STRENGTH_LABEL = f"variation strength ({accepted_range('strength')}, and at least one denoising step)"


class FieldError(SpecError):
    """A value a field may not hold; ``key`` is the field's name."""


def value_of(field: Field, raw: Any) -> Any:
    """The setting a field's value stands for (None: not set), or FieldError."""
    if raw is None or raw == "":
        if field.none_at_zero:
            return None
        raise FieldError(f"{field.words}: give a number, {accepted_range(field.key)}", key=field.name)
    number = float(raw)
    if field.whole and not number.is_integer():
        raise FieldError(f"{field.words}: a whole number, {accepted_range(field.key)} (got {number:g})", key=field.name)
    if field.none_at_zero and number == 0:
        return None
    return int(number) if field.whole else number


def check(defaults: SculptSettings, values: dict[str, Any]) -> dict[str, str]:
    """Field name -> why the spec refuses its value (empty when all are accepted). Each field is
    checked on its own, over the defaults, so every refused field says so at once."""
    errors = {}
    for name, raw in values.items():
        field = FIELDS[name]
        try:
            value = value_of(field, raw)
            if name == "seed":
                run_spec(defaults, "-", seed=value)
            else:
                run_spec(defaults.model_copy(update={name: value}), "-")
        except FieldError as exc:
            errors[name] = str(exc)
        except SpecError as exc:
            got = f" (got {raw:g})" if isinstance(raw, (int, float)) else ""
            errors[name] = f"{field.words}: {accepted_range(field.key)}{got}" if exc.key == field.key else str(exc)
    return errors


def spec_of(defaults: SculptSettings, values: dict[str, Any], brief: str, **options: Any) -> RunSpec:
    """The run spec for a new run from the page's fields (checked first: ``check``)."""
    settings = {n: value_of(FIELDS[n], v) for n, v in values.items() if n != "seed"}
    seed = value_of(FIELDS["seed"], values.get("seed", 0)) or 0
    s = defaults.model_copy(update={k: v for k, v in settings.items() if v is not None or FIELDS[k].none_at_zero})
    return run_spec(s, brief, seed=seed, mode="chat", **options)
