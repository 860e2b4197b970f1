"""The run lifecycle: one object that starts a run from a spec, opens an existing run folder and
advances it — optionally with a person's answer — streaming its events.

Every surface drives runs through :class:`Run`: ``sculpt run``, ``resume``, ``chat``, ``batch``
(in process and on Ray workers), the benchmark's agent method, the studio, and LangGraph's own
server (:mod:`agent.lifecycle.platform`). ``Run`` holds the run folder's lock while it advances,
writes the error log of a bug, decides between resuming and starting afresh (from the checkpoint),
and refuses what cannot be re-opened (a budget below the images made).
"""
from agent.lifecycle.opening import LockLost
from agent.lifecycle.run import THREAD, Run, recursion_limit, run_brief
from agent.lifecycle.run_ids import free_run_id, run_id_for

__all__ = ["THREAD", "LockLost", "Run", "free_run_id", "recursion_limit", "run_brief", "run_id_for"]
