"""The graph langgraph.json exports, loaded the way LangGraph's server loads it and invoked in this
process with no context: given only a brief, it runs in the shapes world through sculpt's
lifecycle (tests/test_langgraph_server.py runs it under the real server)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_exported_graph():
    target = json.loads((ROOT / "langgraph.json").read_text())["graphs"]["sculpt"]  # "./agent/graph.py:studio_graph"
    path, name = target.split(":")
    spec = importlib.util.spec_from_file_location("studio_graph_module", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_the_exported_graph_runs_a_brief_with_no_context(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the shapes-world context keeps its run folders under ./runs
    graph = load_exported_graph()
    out = graph.invoke({"brief": "a blue square, white background"}, {"recursion_limit": 200})
    # The shapes world is exact and seeded: its first image of this one-object brief passes.
    assert (out["status"], out["best"], sorted(out["nodes"])) == ("accepted", "n1", ["n1", "root"])
    run_dir = tmp_path / "runs" / out["run_id"]
    made = [n for n in out["nodes"].values() if n.get("image")]
    assert made and all((run_dir / n["image"]).is_file() for n in made)
    assert (run_dir / "report.html").is_file() and (run_dir / "events.jsonl").read_text().count('"finish"') == 1
    assert json.loads((run_dir / "run.json").read_text())["spec"]["critic"] == "scene"
    tree = json.loads((run_dir / "tree.json").read_text())
    assert (tree["status"], tree["best"]) == (out["status"], out["best"]) and set(tree["nodes"]) == set(out["nodes"])
    assert not (tmp_path / "runs" / f"{out['run_id']}.lock").exists()
