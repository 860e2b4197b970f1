"""The run's history as a tree: typed nodes, the compact critique each carries, and tree queries.

Graph state holds each node as the JSON dict of a :class:`TreeNode` (``model_dump``), so a
checkpoint stays small and JSON-able; code reads it back typed through :class:`Tree`. Node ids are
opaque: order comes from ``seq`` (the order images were made), never from parsing an id. This module
holds the data; what the agent believes of a node and which node is best are rules
(agent/policy/belief.py).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.contracts import Action, Amendment, Critique, Defect, Located, Recommendation, Region

ROOT = "root"  # the tree's root: the brief itself, no image; every txt2img hangs from it

# What a new image meant (policy/outcome.py): a witness confirms the image it redrew, leaves a
# verdict in doubt (a tie), or disputes it; "stagnation" names a step that ended a run of steps below
# the best node, "failed" one whose images the critic could not judge (those two mark no node);
# "amended": an image a person's change to the brief made, judged against the brief as they changed it.
Outcome = Literal["progress", "fresh", "no-progress", "drift", "stagnation", "failed", "confirmed", "tie",
                  "disputed", "amended"]


class CritiqueSummary(BaseModel):
    """What decisions need from a critique, small enough to checkpoint every step. The full
    critique is in the run folder (``file``)."""

    model_config = ConfigDict(extra="forbid")

    score: float
    passed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    defects: list[Defect] = Field(default_factory=list)
    regions: dict[str, Region] = Field(default_factory=dict)  # failed requirement -> where its fix belongs
    objects: list[Located] = Field(default_factory=list)  # where the critic found things, passing or not
    recommended: Recommendation | None = None
    critic: str = ""
    prompt_version: str | None = None
    file: str | None = None

    @classmethod
    def of(cls, crit: Critique, file: str | None) -> "CritiqueSummary":
        return cls(score=round(crit.score, 4), passed=crit.passed_ids, failed=crit.failed_ids,
                   defects=crit.defects, recommended=crit.recommended, critic=crit.critic,
                   prompt_version=crit.prompt_version, file=file, objects=crit.objects,
                   regions={v.id: v.region for v in crit.verdicts if not v.passed and v.region})


class TreeNode(BaseModel):
    """One image of the run (or the root), how it was made, what the critic said, and what the
    agent learned there (tabu actions, tries, adapted strengths)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seq: int = 0  # creation order: 0 for the root, then 1, 2, ... as images are made
    parent: str | None = None  # the node whose image the action edited (the root for txt2img)
    origin: str | None = None  # where the agent stood when it acted (differs from parent for restarts)
    depth: int = 0
    step: int | None = None  # the graph step that made it; siblings of one variations call share it
    action: Action | None = None  # exactly what the engine carried out
    prompt: str | None = None  # the prompt the engine got (for an inpaint: what goes in the region)
    scene_prompt: str | None = None  # the prompt describing the whole image, inherited by edits
    negative_prompt: str | None = None
    seed: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)  # engine parameters, small
    image: str | None = None  # run-relative path
    image_hash: str | None = None
    engine_seconds: float | None = None
    change: float | None = None  # mean pixel change from the parent's image, 0..1
    changed_box: Region | None = None  # where pixels changed from the parent's image (None: nowhere)
    changed_share: float | None = None  # share of pixels that changed
    outside_change: float | None = None  # inpaint: share of pixels changed outside the mask
    critique: CritiqueSummary | None = None
    critique_error: str | None = None
    # The version of the checklist its critique answered: 0 as planned, then one more for each change a
    # person made to the brief (policy/amend.py). An older critique answered a brief no longer asked for.
    judged_on: int = 0
    amendment: Amendment | None = None  # the change to the brief the person's request made here
    outcome: Outcome | None = None
    lost: list[str] = Field(default_factory=list)  # requirements that held at the origin and fail here
    # Failures the critic claimed that the pixels contradict (nothing changed where they are): they
    # hold here as they did where the edit started.
    doubted: list[str] = Field(default_factory=list)
    # Witnesses: light redraws of this image, judged independently (the same picture, so the same
    # truth, but a fallible critic's mistakes do not carry over). Their verdicts are pooled here as
    # votes: requirement -> passes minus failures among the witnesses.
    witnesses: list[str] = Field(default_factory=list)
    votes: dict[str, float] = Field(default_factory=dict)
    sibling_rank: int | None = None  # variations: the critic's ranking among siblings
    # What the agent learned here, for the next decision at this node:
    tabu: list[str] = Field(default_factory=list)  # action classes that drifted here (policy/tabu.py)
    tries: dict[str, int] = Field(default_factory=dict)  # action class -> tries without progress
    failures: dict[str, int] = Field(default_factory=dict)  # tool kind -> failed tries of any class
    strengths: dict[str, float] = Field(default_factory=dict)  # tool kind -> adapted strength
    tool_errors: list[str] = Field(default_factory=list)  # actions the engine could not carry out here

    def to_state(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


def root_node(prompt: str, image: str | None = None, image_hash: str | None = None) -> TreeNode:
    return TreeNode(id=ROOT, prompt=prompt, image=image, image_hash=image_hash)


def merge_nodes(old: dict[str, dict] | None, new: dict[str, dict] | None) -> dict[str, dict]:
    """The state reducer: nodes are updated by id, an update replaces only the fields it names, and
    every result is validated as a TreeNode (an unknown field is a bug, caught where it is made)."""
    out = dict(old or {})
    for node_id, fields in (new or {}).items():
        merged = {**out.get(node_id, {}), **fields}
        out[node_id] = TreeNode.model_validate(merged).to_state()
    return out


class Tree:
    """Typed, read-only queries over the state's nodes."""

    def __init__(self, nodes: dict[str, dict]):
        self._raw = nodes
        self._typed: dict[str, TreeNode] = {}

    def __getitem__(self, node_id: str) -> TreeNode:
        if node_id not in self._typed:
            self._typed[node_id] = TreeNode.model_validate(self._raw[node_id])
        return self._typed[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def ids(self) -> list[str]:
        """Every node id in creation order (the root first)."""
        return sorted(self._raw, key=lambda i: self[i].seq)

    def imaged(self) -> list[str]:
        return [i for i in self.ids() if self[i].image]

    def children(self, node_id: str) -> list[str]:
        return [i for i in self.ids() if self[i].parent == node_id]

    def next_seq(self) -> int:
        return max((self[i].seq for i in self._raw), default=0) + 1

    def path_to(self, node_id: str | None) -> list[str]:
        """Ids from the root to ``node_id``."""
        out = []
        while node_id:
            out.append(node_id)
            node_id = self[node_id].parent
        return out[::-1]

    def last_batch(self) -> list[str]:
        """The nodes made by the latest generate step, best first when it made several."""
        imaged = self.imaged()
        if not imaged:
            return []
        last = max(self[i].step or 0 for i in imaged)
        batch = [i for i in imaged if (self[i].step or 0) == last]
        return sorted(batch, key=lambda i: (self[i].sibling_rank or 0, self[i].seq))


def new_node_id(seq: int) -> str:
    """The id of the ``seq``-th image of a run: short, stable and readable in logs ("n3")."""
    return f"n{seq}"
