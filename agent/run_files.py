"""The files of a run folder, typed: run.json (:class:`RunInfo`), tree.json (:class:`TreeFile`) and
events.jsonl (agent/events.py). The run folder (agent/store.py) and the lifecycle write these types;
everything that reads a run folder — the studio, the batch, the benchmark, the reports — reads it
through :class:`RunFolder`, never with a raw ``json.load``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.events import Event, read_event
from agent.policy.config import Budget
from agent.spec import RunSpec, describe_error
from agent.tree import Tree, TreeNode
from tools.contracts import Requirement
from tools.errors import InputError

RUN_FILE, TREE_FILE, EVENTS_FILE = "run.json", "tree.json", "events.jsonl"


class RunInfo(BaseModel):
    """run.json: what defines the run (its spec), the critic and the model it was made with."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    created: str
    spec: RunSpec
    critic_name: str | None = None
    model_identity: dict[str, Any] = Field(default_factory=dict)


class TreeFile(BaseModel):
    """tree.json: the tree and where the run stands, rewritten after every step."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = None
    brief: str | None = None
    prompt: str | None = None
    checklist: list[Requirement] = Field(default_factory=list)
    current: str | None = None
    best: str | None = None
    status: str | None = None
    stop_reason: str | None = None
    spend: dict[str, float] = Field(default_factory=dict)
    counters: dict[str, float] = Field(default_factory=dict)
    nodes: dict[str, TreeNode] = Field(default_factory=dict)
    seed: int | None = None
    start_image: str | None = None
    budget: Budget = Field(default_factory=Budget)
    picked: str | None = None  # the person's pick (chat): the answer unless they accept another image
    checklist_version: int | None = None  # how many times a person changed the brief

    @classmethod
    def of(cls, state: dict[str, Any], budget: Budget) -> "TreeFile":
        """tree.json for a graph state (the fields it keeps) and the run's budget."""
        keep = {k: state.get(k) for k in cls.model_fields if k != "budget" and state.get(k) is not None}
        return cls(**keep, budget=budget)

    def to_json(self) -> dict[str, Any]:
        """As tree.json holds it: nodes as compact as the graph state keeps them."""
        return {**self.model_dump(mode="json", exclude={"nodes"}),
                "nodes": {i: n.to_state() for i, n in self.nodes.items()}}

    @property
    def tree(self) -> Tree:
        return Tree({i: n.to_state() for i, n in self.nodes.items()})

    def texts(self) -> dict[str, str]:
        """Requirement id -> its words, for everything a person reads."""
        return {r.id: r.text for r in self.checklist}


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path.parent} is not a sculpt run folder (no {path.name})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is unreadable ({exc}): {what}") from None


def read_info(root: Path) -> RunInfo:
    data = _read_json(Path(root) / RUN_FILE, "the run cannot be resumed")
    if isinstance(data, dict) and "spec" not in data:
        raise InputError(f"{Path(root) / RUN_FILE} has no spec; it was made by an older sculpt, whose runs cannot "
                         "be resumed (its images and report are still there)")
    try:
        return RunInfo.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{Path(root) / RUN_FILE}: {describe_error(exc)}") from None


def read_tree(root: Path) -> TreeFile | None:
    """tree.json, or None before the run's first step wrote it."""
    path = Path(root) / TREE_FILE
    if not path.is_file():
        return None
    try:
        return TreeFile.model_validate(_read_json(path, "the tree cannot be shown"))
    except ValidationError as exc:
        raise InputError(f"{path}: {describe_error(exc)}") from None


def read_events(root: Path, since: int = 0) -> list[Event]:
    """events.jsonl as it stands (after the first ``since``); a line being written right now is left
    for the next read."""
    path = Path(root) / EVENTS_FILE
    out: list[Event] = []
    if not path.is_file():
        return out
    for line in path.read_text().splitlines()[since:]:
        try:
            out.append(read_event(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return out


@dataclass
class RunFolder:
    """A run as its files show it, read without the graph."""

    root: Path
    info: RunInfo
    tree_file: TreeFile | None
    events: list[Event] = field(default_factory=list)

    @classmethod
    def read(cls, root: str | Path, *, events: bool = True) -> "RunFolder":
        root = Path(root)
        return cls(root=root, info=read_info(root), tree_file=read_tree(root),
                   events=read_events(root) if events else [])

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def spec(self) -> RunSpec:
        return self.info.spec

    @property
    def state(self) -> TreeFile:
        """Where the run stands (an empty tree before its first step)."""
        return self.tree_file or TreeFile(budget=self.spec.budget)

    @property
    def nodes(self) -> Tree:
        return self.state.tree

    @property
    def checklist(self) -> dict[str, str]:
        return self.state.texts()

    def image(self, rel: str | None) -> str | None:
        return str(self.root / rel) if rel else None
