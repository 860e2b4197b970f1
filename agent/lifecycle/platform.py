"""Runs driven by LangGraph's own server (``langgraph dev``, LangGraph Studio, LangGraph Platform).

That server runs the graph itself, with its own checkpointer, and builds the graph's context from
its schema with no arguments, so nodes find an empty :class:`agent.context.RunContext`. They then
ask here for the run's real context, which is made the way every surface makes one — through
:class:`agent.lifecycle.Run`: a run folder under the configured runs folder (sculpt.toml,
``SCULPT_*``) with run.json, the folder's lock for as long as the server has the run open,
tree.json after every step, and the shapes world's defaults where the settings name nothing else.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent.context import RunContext
from agent.lifecycle.run import Run
from agent.results import write_tree
from agent.store import RUN_FILE

HOLDER = "langgraph server"
_RUNS: dict[str, Run] = {}
_LOCK = threading.Lock()


def platform_context(run_id: str, state: dict[str, Any]) -> RunContext:
    """The context of the run ``run_id``, opened (or started) on first use in this process."""
    with _LOCK:
        if run_id not in _RUNS:
            _RUNS[run_id] = _open(run_id, state)
        return _RUNS[run_id].ctx


def after_step(node: str, state: dict[str, Any]) -> None:
    """After ``node`` ran (``state``: the graph's state with its update applied): tree.json for a run
    this server drives, as :meth:`Run.stream` writes it for the runs sculpt drives itself; at the
    end of the run its folder's lock is given up."""
    run = _RUNS.get(state.get("run_id") or "")
    if run is None:
        return
    write_tree(run.store, state, run.spec)
    if node == "finish":
        with _LOCK:
            _RUNS.pop(run.store.root.name, None)
        run.close()


def _open(run_id: str, state: dict[str, Any]) -> Run:
    from agent.settings import load_settings, run_spec

    settings = load_settings()
    root = Path(settings.runs_dir) / run_id

    def make() -> Run:
        if (root / RUN_FILE).is_file():  # a thread the server resumes (after its restart, say)
            return Run._open(root, engine=None, critic=None, holder=HOLDER, checkpointer=None)
        spec = run_spec(settings, state.get("brief") or "", seed=int(state.get("seed") or 0),
                        mode=state.get("mode") or "auto")
        return Run._start(spec, settings.runs_dir, engine=None, critic=None, run_id=run_id, checkpointer=None,
                          on_event=None, holder=HOLDER)

    return Run.held_by(HOLDER, root, make)
