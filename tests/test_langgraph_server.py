"""The graph langgraph.json exports, run by LangGraph's own server (`langgraph dev`, what LangGraph
Studio talks to): started on 127.0.0.1 from the repository, given only a brief over HTTP, its runs
are made through sculpt's lifecycle: a run folder with run.json and tree.json, its lock held while
the server runs it and given up at the end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_studio_browser import free_port

ROOT = Path(__file__).resolve().parent.parent
BRIEF = "a red circle to the left of a blue square, yellow background"


def post(url: str, body: dict, timeout: float) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("langgraph-cli is not installed (pip install -e '.[dev]' installs it)")
    runs = tmp_path_factory.mktemp("langgraph") / "runs"
    port = free_port()
    env = {**os.environ, "SCULPT_RUNS_DIR": str(runs), "SCULPT_STEPS": "6", "SCULPT_CONFIG": "/nonexistent.toml",
           "OMP_NUM_THREADS": "1", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    log = runs.parent / "server.log"
    with log.open("w") as out:
        # From the repository root: langgraph.json names the graph by a path relative to it.
        proc = subprocess.Popen([cli, "dev", "--port", str(port), "--host", "127.0.0.1", "--no-browser",
                                 "--no-reload"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"langgraph dev did not start: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    yield url, runs
    proc.terminate()
    proc.wait(timeout=30)


def test_langgraph_dev_runs_a_brief_through_sculpts_lifecycle(server):
    url, runs = server
    out = post(f"{url}/runs/wait", {"assistant_id": "sculpt", "input": {"brief": BRIEF}}, timeout=240)
    assert "__error__" not in out, out
    assert out["status"] in ("accepted", "budget", "exhausted") and out["best"]
    run_dir = runs / out["run_id"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["spec"]["brief"] == BRIEF and info["spec"]["generation"]["steps"] == 6  # the settings it was given
    tree = json.loads((run_dir / "tree.json").read_text())
    assert tree["status"] == out["status"] and tree["best"] == out["best"] and set(tree["nodes"]) == set(out["nodes"])
    assert (run_dir / tree["nodes"][out["best"]]["image"]).is_file()
    assert [json.loads(line)["node"] for line in (run_dir / "events.jsonl").read_text().splitlines()][-1] == "finish"
    assert not (runs / f"{out['run_id']}.lock").exists()  # given up at the end of the run
