"""The run's events: one type per graph node, written by the node (agent/nodes/common.py ``emit``),
appended to events.jsonl and streamed to whoever follows the run. The terminal, the studio and the
reports render these types; nobody guesses at dict keys.

An event's id is (step, node, key): a node re-run after a resume writes nothing twice, and a node
that reports several things in one step (one critique per variation, an error then what it did
instead) gives each its own key.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str
    step: int = 0
    time: str | None = None  # written by the run folder when the event is appended


class PlanEvent(_Event):
    node: Literal["plan"] = "plan"
    checklist: list[str]  # "id: text" per requirement
    prompt: str
    source: str  # the critic that planned it
    start_image: str | None = None


class EnterEvent(_Event):
    node: Literal["enter"] = "enter"
    reason: str | None = None  # why a finished run was opened again
    node_id: str | None = None  # the node a person continues from
    was: str  # the status it had


class DecideEvent(_Event):
    node: Literal["decide"] = "decide"
    decision: str  # an action kind, or "accept" / "stop"
    reason: str = ""
    notes: list[str] = Field(default_factory=list)
    status: str | None = None  # when it ends the run
    action: dict[str, Any] | None = None  # the action decided (agent.contracts.Action)
    source: str | None = None  # rules, critic or human


class RewriteEvent(_Event):
    node: Literal["rewrite_prompt"] = "rewrite_prompt"
    job: str  # "prompt" or "region"
    prompt: str | None = None
    reason: str | None = None
    rewriter: str | None = None
    error: str | None = None  # the rewriter failed; the current prompt was kept
    kept: str | None = None


class GenerateEvent(_Event):
    node: Literal["generate"] = "generate"
    action: str  # the tool: txt2img, img2img, inpaint, variations
    params: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=list)  # the new nodes, in order
    images: list[str] = Field(default_factory=list)
    parent: str | None = None
    origin: str | None = None
    engine_seconds: float = 0.0
    reason: str = ""
    error: str | None = None  # the engine could not carry it out
    tried: dict[str, Any] | None = None  # the action that failed (agent.contracts.Action)
    cancelled: bool | None = None  # True: a person stopped it mid-image, and nothing was made

    @model_validator(mode="before")
    @classmethod
    def _failed_before(cls, data: Any) -> Any:
        # Run folders written before this type recorded a failed action's dict as "action".
        if isinstance(data, dict) and isinstance(data.get("action"), dict):
            data = {**data, "tried": data["action"], "action": data["action"].get("kind", "?")}
        return data


class CritiqueEvent(_Event):
    node: Literal["critique"] = "critique"
    node_id: str
    score: float | None = None
    passed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    critic: str | None = None
    prompt_version: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    reasons: dict[str, str] = Field(default_factory=dict)  # failed requirement -> the critic's evidence
    error: str | None = None  # the critic gave no usable answer
    fatal: bool = False  # it could not be reached: the run stopped
    last_reply: str | None = None


class SelectEvent(_Event):
    node: Literal["select"] = "select"
    outcome: str  # agent.tree.Outcome, or "start" for a person's own image
    node_id: str | None = None
    origin: str | None = None
    reason: str | None = None
    score: float | None = None
    best: str | None = None
    ranked: list[str] | None = None
    critic_error: str | None = None
    # A person's request changed the brief (agent.contracts.Amendment), or needs their word first.
    amendment: dict[str, Any] | None = None
    question: str | None = None


class BacktrackEvent(_Event):
    node: Literal["backtrack"] = "backtrack"
    to: str
    away_from: str | None = None
    reason: str = ""
    outcome: str = ""


class AskHumanEvent(_Event):
    node: Literal["ask_human"] = "ask_human"
    answer: dict[str, Any]  # agent.answers, as the person gave it
    node_id: str | None = None
    amendment: dict[str, Any] | None = None  # the change to the brief their answer kept


class FinishEvent(_Event):
    node: Literal["finish"] = "finish"
    status: str
    reason: str | None = None
    best: str | None = None
    best_score: float | None = None
    spend: dict[str, float] | None = None
    counters: dict[str, float] | None = None


Event = Annotated[Union[PlanEvent, EnterEvent, DecideEvent, RewriteEvent, GenerateEvent, CritiqueEvent, SelectEvent,
                        BacktrackEvent, AskHumanEvent, FinishEvent], Field(discriminator="node")]
EVENT_TYPES = {t.model_fields["node"].default: t for t in (
    PlanEvent, EnterEvent, DecideEvent, RewriteEvent, GenerateEvent, CritiqueEvent, SelectEvent, BacktrackEvent,
    AskHumanEvent, FinishEvent)}
_ADAPTER: TypeAdapter = TypeAdapter(Event)


def read_event(data: dict[str, Any]) -> Event:
    """The typed event of one events.jsonl line."""
    return _ADAPTER.validate_python(data)


def event_line(event: _Event) -> dict[str, Any]:
    """What events.jsonl holds for an event: its fields, without the empty ones."""
    return event.model_dump(mode="json", exclude_none=True)
