"""The graph langgraph.json exports for LangGraph Studio (`langgraph dev`) runs with no context:
loaded the way the platform loads it, given only a brief, it works in the shapes world."""
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
    assert out["status"] in ("accepted", "budget")
    run_dir = tmp_path / "runs" / out["run_id"]
    made = [n for n in out["nodes"].values() if n.get("image")]
    assert made and all((run_dir / n["image"]).is_file() for n in made)
    assert (run_dir / "report.html").is_file() and (run_dir / "events.jsonl").read_text().count('"finish"') == 1
    assert json.loads((run_dir / "run.json").read_text())["spec"]["critic"] == "scene"
