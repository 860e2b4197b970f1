"""agent: sculpt's own graph, given the benchmark's engine proxy, critic, seed and image budget.

Each run keeps its folder under ``<out>/agent-runs/<brief id>`` (images, events, tree, report,
checkpoint), so the report can link every tree. The tree's nodes are numbered in the order their
images were made, which is what the success-versus-budget curve reads.
"""
from __future__ import annotations

import shutil
import time

from agent.policy import belief
from agent.lifecycle import Run
from agent.spec import RunSpec
from agent.status import Status
from agent.tree import Tree
from evals.bench.errors import BenchStopped
from evals.bench.methods.common import MethodResult, Shot, Trial, best_so_far

AGENT_RUNS = "agent-runs"


def _checkpoint_bytes(run_dir) -> int:
    # SQLite may keep recent pages in -wal/-journal files beside the database; count them too.
    names = ("checkpoint.sqlite", "checkpoint.sqlite-wal", "checkpoint.sqlite-journal")
    return sum((run_dir / n).stat().st_size for n in names if (run_dir / n).exists())


def run_agent(trial: Trial) -> MethodResult:
    runs = trial.out / AGENT_RUNS
    run_dir = runs / trial.brief_id
    if run_dir.exists():
        # A run killed before its result was recorded. Starting it again from nothing gives the
        # same images (seeds are fixed) and clean timings and checkpoint sizes; resuming it would not.
        shutil.rmtree(run_dir)
    spec = RunSpec(brief=trial.brief, model=trial.model, critic=trial.critic_spec,
                   critic_options=dict(trial.critic_options), localiser=trial.localiser,
                   budget={"generations": trial.budget},
                   seed=trial.seed, policy=trial.policy,
                   # Spelled out so run.json describes the run fully (a resume or replay of the
                   # folder uses the benchmark's steps, not the model's default).
                   generation={"steps": trial.engine.default_steps})
    t0 = time.perf_counter()
    with Run.start(spec, runs, engine=trial.engine, critic=trial.make_critic(), run_id=trial.brief_id) as run:
        res = run.advance()
    wall = time.perf_counter() - t0
    if res.status == Status.CRITIC_UNAVAILABLE:
        raise BenchStopped(f"the critic {trial.critic_spec} is unreachable ({res.stop_reason}); every "
                           "finished result is saved: rerun the same command to continue")
    state = res.state
    tree = Tree(state.get("nodes", {}))
    ids = [i for i in tree.imaged() if tree[i].action is not None]  # made by the run, in order
    shots = []
    for i in ids:
        n = tree[i]
        shots.append(Shot(task=n.action.kind, seed=n.seed, prompt=n.prompt, strength=n.action.strength,
                          score=round(belief.score(n), 4) if n.critique else None,
                          claimed=not n.critique.failed if n.critique else None,
                          path=f"{AGENT_RUNS}/{trial.brief_id}/{n.image}", digest=n.image_hash,
                          node=i, parent=n.parent))
    # The best node among those made by the first k images, by the driving critic's score (the
    # agent's own rule: a later node must score strictly higher to become the best). The last
    # point is the agent's own answer, whatever a critic's listwise ranking made of it.
    choice: list[int | None] = list(best_so_far([s.score for s in shots]))
    final = ids.index(res.best) if res.best in ids else None
    if choice:
        choice[-1] = final
    spend, counters = state.get("spend", {}), state.get("counters", {})
    steps = int(state.get("step", 0))
    engine_s, critic_s = float(spend.get("engine_seconds", 0)), float(spend.get("critic_seconds", 0))
    ckpt = _checkpoint_bytes(run_dir)
    return MethodResult(
        shots=shots, choice=choice, final=final,
        usage={"critic_calls": int(spend.get("critic_calls", 0)), "tokens": int(spend.get("tokens", 0)),
               "usd": round(float(spend.get("usd", 0)), 6)},
        info={"run": f"{AGENT_RUNS}/{trial.brief_id}", "status": res.status.value, "stop_reason": res.stop_reason,
              "best": res.best, "steps": steps, "generations": int(spend.get("generations", 0)),
              "drifts": int(counters.get("drifts", 0)), "backtracks": int(counters.get("backtracks", 0)),
              "actions": [s.task for s in shots]},
        measured={"run_s": round(wall, 4), "engine_s_spend": round(engine_s, 4), "critic_s": round(critic_s, 4),
                  "graph_s": round(float(spend.get("seconds", 0)), 4),
                  "overhead_share": round(max(0.0, wall - engine_s - critic_s) / wall, 4) if wall > 0 else None,
                  "checkpoint_bytes": ckpt, "checkpoint_bytes_per_step": round(ckpt / steps, 1) if steps else None})
