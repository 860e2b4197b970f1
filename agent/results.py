"""Where a run stands, for the surfaces: the status, the best image and its checklist, and the
question a chat run waits on. Also tree.json, the tree as it stands, written after every step."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.policy import belief
from agent.run_files import TreeFile
from agent.spec import RunSpec
from agent.status import Status, status_of
from agent.store import RunStore
from agent.tree import Tree



@dataclass
class RunResult:
    run_dir: Path
    run_id: str
    status: Status
    stop_reason: str | None
    best: str | None
    best_image: Path | None
    best_score: float | None
    verdicts: list[dict]  # the best image's checklist: {id, text, passed (believed), critic (said)}
    state: dict
    question: Any = None  # chat: what the run asks the person (the ask_human interrupt)

    @property
    def accepted(self) -> bool:
        return self.status == Status.ACCEPTED

    @property
    def waiting(self) -> bool:
        return self.question is not None


def result_of(store: RunStore, values: dict, spec: RunSpec, question: Any = None) -> RunResult:
    write_tree(store, values, spec)
    tree = Tree(values.get("nodes", {}))
    best = values.get("best")
    verdicts = []
    if best and tree[best].critique:
        # What the agent believes (witnesses and pixel checks included), and what the critic said.
        said = set(tree[best].critique.passed)
        verdicts = belief.verdicts(tree[best], [{"id": r["id"], "text": r["text"], "passed": r["id"] in said}
                                                for r in values.get("checklist", [])])
    return RunResult(
        run_dir=store.root, run_id=values.get("run_id", store.root.name),
        status=Status.WAITING if question is not None else status_of(values.get("status")),
        stop_reason=values.get("stop_reason"), best=best,
        best_image=store.root / tree[best].image if best and tree[best].image else None,
        best_score=belief.score(tree[best]) if best else None, verdicts=verdicts, state=values, question=question)


def write_tree(store: RunStore, state: dict, spec: RunSpec) -> None:
    if not state:
        return
    store.write_json(store.tree_path, TreeFile.of(state, spec.budget).to_json())
