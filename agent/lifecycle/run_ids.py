"""Run folder names: when a run was made and a digest of what defines it, never one already taken."""
from __future__ import annotations

from pathlib import Path

from agent.spec import RunSpec
from agent.store import new_run_id


def run_id_for(spec: RunSpec) -> str:
    return new_run_id(spec.brief, spec.seed, spec.model, spec.critic)


def free_run_id(spec: RunSpec, out_dir: str | Path) -> str:
    """A run folder name not taken under ``out_dir``: the same brief and seed started twice in one
    second (two tabs, a double click, a script) get two folders, not an error."""
    base = run_id = run_id_for(spec)
    n = 2
    while (Path(out_dir) / run_id).exists():
        run_id, n = f"{base}-{n}", n + 1
    return run_id
