"""A person's answers to the question a chat run waits on (the ask_human interrupt), typed.

Every surface (the terminal chat, the studio) sends one of these as a dict; a malformed one is
refused with a message that says what a valid one looks like, and the question stays open.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from agent.contracts import Region


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accept(_Answer):
    action: Literal["accept"]


class Continue(_Answer):
    action: Literal["continue"]  # let the agent decide the next move


class Stop(_Answer):
    action: Literal["stop"]


class Feedback(_Answer):
    action: Literal["feedback"]
    text: str

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("feedback needs some text")
        return v.strip()


class Pick(_Answer):
    action: Literal["pick"]
    node: str  # one of the last variations (recorded as a preference)


class Branch(_Answer):
    action: Literal["branch"]
    node: str  # any critiqued node: continue from there


class Vary(_Answer):
    action: Literal["vary"]
    strength: float | None = Field(None, gt=0, le=1)  # None: the policy's variation strength


class Amend(_Answer):
    """The answer to "keep “a blue square”?" after a person's edit lost it: keep the ``change`` (the
    brief lets it go, agent/policy/amend.py) or keep the ``brief`` as it was (back where the edit started)."""

    action: Literal["amend"]
    keep: Literal["change", "brief"]


class RedoRegion(_Answer):
    action: Literal["region"]
    region: Region
    prompt: str | None = None  # what goes there; None: the rewriter writes it

    @field_validator("region", mode="before")
    @classmethod
    def _box(cls, v):
        if isinstance(v, (list, tuple)):
            if len(v) != 4:
                raise ValueError("a region is four numbers x0 y0 x1 y1 between 0 and 1")
            x0, y0, x1, y1 = (float(n) for n in v)
            return {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
        return v


Answer = Annotated[Union[Accept, Continue, Stop, Feedback, Pick, Branch, Vary, RedoRegion, Amend],
                   Field(discriminator="action")]
ANSWERS = ("accept", "continue", "feedback", "pick", "branch", "region", "stop", "vary", "amend")
_ADAPTER = TypeAdapter(Answer)


def read_answer(value: object) -> Accept | Continue | Stop | Feedback | Pick | Branch | Vary | RedoRegion | Amend:
    """The typed answer, or ValueError with a message for the person."""
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type"):
            raise ValueError(f"unknown answer {value!r}; answer with one of: {', '.join(ANSWERS)}") from None
        where = ".".join(str(p) for p in first["loc"][1:]) or "answer"
        bound = _BOUNDS.get(first["type"])
        if bound:  # a number out of its range, said as the range (the page shows it next to the field)
            limit = first["ctx"][bound[0]]
            raise ValueError(f"{where}: {bound[1]} {limit:g} (got {first.get('input')!r})") from None
        raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


_BOUNDS = {"greater_than": ("gt", "must be more than"), "greater_than_equal": ("ge", "must be at least"),
           "less_than": ("lt", "must be less than"), "less_than_equal": ("le", "must be at most")}
