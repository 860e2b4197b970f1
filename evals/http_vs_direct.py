"""The agent over HTTP against the same agent with the exact critic in process, brief by brief.

    python -m evals.http_vs_direct [--briefs 20] [--budget 8] [--model PATH]   (from the repo root)

The HTTP side is `openai:fake-vlm` talking to tests/fake_openai_server.py, a real local server that
answers from the exact shapes critic; both sides use the rules and the rules rewriter, so any
difference is the critic transport's (box conventions, JSON round trips, retries).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table


def tree(res) -> list[tuple]:
    from agent.tree import Tree

    t = Tree(res.state["nodes"])
    return [(i, t[i].parent, t[i].action.kind if t[i].action else None, t[i].image_hash,
             sorted(t[i].critique.failed if t[i].critique else [])) for i in t.ids()]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--briefs", type=int, default=20)
    p.add_argument("--budget", type=int, default=8)
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None)
    args = p.parse_args(argv)
    from agent.critics.registry import make_critic
    from agent.critics.scene import SceneCritic
    from agent.components import resolve_model
    from agent.lifecycle import run_brief
    from agent.spec import RunSpec
    from tests.fake_openai_server import FakeOpenAIServer
    from tools.engine import Engine
    from tools.engine.quiet import quiet_libraries
    from tools.shapes.sample import benchmark_briefs

    quiet_libraries()
    engine = Engine.load(args.model or resolve_model("shapes"))
    table = Table(title=f"agent over HTTP vs direct exact critic · {args.briefs} briefs · budget {args.budget}")
    for col in ("brief", "direct", "http", "same tree"):
        table.add_column(col)
    same = status_same = 0
    with FakeOpenAIServer(models=("fake-vlm",)) as server, tempfile.TemporaryDirectory() as tmp:
        for i, b in enumerate(benchmark_briefs(args.seed, args.briefs, args.objects)):
            # The rules for a fallible critic off: the comparison is about the transport.
            spec = RunSpec(brief=b.text(), budget={"generations": args.budget}, rewriter="rules", seed=i,
                           policy={"confirm_accept": False, "doubt_drift": False})
            direct = run_brief(spec, Path(tmp) / "direct", engine=engine, critic=SceneCritic())
            http = run_brief(spec, Path(tmp) / "http", engine=engine,
                             critic=make_critic("openai:fake-vlm", base_url=server.url, api_key="sk-local"))
            identical = tree(direct) == tree(http)
            same += identical
            status_same += direct.status == http.status and direct.best_score == http.best_score
            table.add_row(b.text(), f"{direct.status} {direct.best_score:.2f}", f"{http.status} {http.best_score:.2f}",
                          "yes" if identical else "NO")
        calls = len(server.requests)
    Console().print(table)
    Console().print(f"identical trees: {same}/{args.briefs}; same status and best score: {status_same}/{args.briefs}; "
                    f"HTTP requests: {calls}")


if __name__ == "__main__":
    main()
