"""Kill a real `sculpt run` with SIGKILL at several points, resume it, and compare with a run that
was never interrupted: the same tree, nothing lost, nothing written twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BRIEF = "a red circle to the left of a blue square, yellow background"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def sculpt(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agent.cli", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def run_args(model: Path, out: Path) -> list[str]:
    return ["run", BRIEF, "--model", str(model), "--budget", "4", "--steps", "4", "--seed", "5",
            "--out", str(out), "-q"]


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


def summary(run_dir: Path) -> list[tuple]:
    tree = json.loads((run_dir / "tree.json").read_text())
    return [(i, n.get("parent"), (n.get("action") or {}).get("kind"), n.get("image_hash"), n.get("seed"),
             sorted((n.get("critique") or {}).get("failed", []))) for i, n in sorted(tree["nodes"].items())]


def check_consistent(run_dir: Path) -> None:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was written twice"
    tree = json.loads((run_dir / "tree.json").read_text())
    made = [img for e in events if e["node"] == "generate" for img in e.get("images", [])]
    on_disk = {p.relative_to(run_dir).as_posix() for p in (run_dir / "images").glob("*.png")}
    in_tree = {n["image"] for n in tree["nodes"].values() if n.get("image")}
    assert in_tree == on_disk == set(made), "images in the tree, on disk and in the events disagree"
    assert len(made) == tree["spend"]["generations"]
    assert not list(run_dir.rglob(".*.tmp")), "a half-written file was left behind"
    assert events[-1]["node"] == "finish"


@pytest.fixture(scope="module")
def reference(shapes_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    p = sculpt(*run_args(shapes_model_dir, out))
    _, err = p.communicate(timeout=600)
    assert p.returncode in (0, 3), err[-2000:]
    run_dir = only_run(out)
    check_consistent(run_dir)
    return summary(run_dir)


@pytest.mark.parametrize("kill_after_events", [2, 5, 11])
def test_killed_run_resumes_to_the_same_result(kill_after_events, reference, shapes_model_dir, tmp_path):
    p = sculpt(*run_args(shapes_model_dir, tmp_path))
    events = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        runs = [d for d in tmp_path.iterdir() if d.is_dir()]
        events = runs[0] / "events.jsonl" if runs else None
        if events and events.exists() and events.read_text().count("\n") >= kill_after_events:
            break
        time.sleep(0.01)
    assert p.poll() is None, "the run ended before it could be killed; kill earlier"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    run_dir = only_run(tmp_path)
    written = events.read_text().count("\n")
    assert written >= kill_after_events
    r = sculpt("resume", str(run_dir), "-q")
    _, err = r.communicate(timeout=600)
    assert r.returncode in (0, 3), err[-2000:]
    check_consistent(run_dir)
    assert summary(run_dir) == reference


def test_killed_run_resumes_with_a_larger_budget(shapes_model_dir, tmp_path):
    script = tmp_path / "near-miss.json"
    script.write_text(json.dumps({"critiques": [{"fail": ["g0.left_of.g1"]}]}))  # never accepts
    out = tmp_path / "runs"
    args = ["run", BRIEF, "--model", str(shapes_model_dir), "--budget", "3", "--steps", "4", "--out", str(out),
            "--critic", f"scripted:{script}", "--follow-critic", "-q"]
    p = sculpt(*args)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:
        runs = list(out.iterdir()) if out.exists() else []
        if runs and (runs[0] / "events.jsonl").exists() and \
                (runs[0] / "events.jsonl").read_text().count('"node": "generate"') >= 1:
            break
        time.sleep(0.01)
    assert p.poll() is None
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    run_dir = only_run(out)
    r = sculpt("resume", str(run_dir), "--budget", "5", "-q")
    _, err = r.communicate(timeout=600)
    assert r.returncode == 3, err[-2000:]
    check_consistent(run_dir)
    tree = json.loads((run_dir / "tree.json").read_text())
    assert tree["spend"]["generations"] == 5 and tree["budget"]["generations"] == 5
    assert json.loads((run_dir / "run.json").read_text())["spec"]["budget"]["generations"] == 5
