"""ShapesBench runs are deterministic and resumable; the command turns errors into exit codes.

The reference benchmark runs once in this process; the same settings run again (in place of it)
must give the same results.json apart from its timings, and so must a benchmark killed with
SIGKILL in a subprocess part-way through and then rerun.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import typer
from typer.testing import CliRunner

from evals.bench.cli import register
from evals.bench.errors import BenchError
from evals.bench.runner import BenchConfig, run_bench

TRIALS = 3 * 5  # briefs x methods


def config(out, model_dir, **changes) -> BenchConfig:
    settings = dict(briefs=3, budget=3, seed=0, out=out, model=str(model_dir), steps=6, show_progress=False)
    return BenchConfig(**{**settings, **changes})


def deterministic(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "timings"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shapes_engine, shapes_model_dir):
    base = tmp_path_factory.mktemp("bench-resume")
    out = base / "out"
    run_bench(config(out, shapes_model_dir), engine=shapes_engine)
    ref = base / "reference"
    out.rename(ref)  # later runs use the same --out, so even the recorded command is the same
    return out, json.loads((ref / "results.json").read_text())


def test_same_seed_same_results(reference, shapes_engine, shapes_model_dir):
    out, expected = reference
    shutil.rmtree(out, ignore_errors=True)
    again = run_bench(config(out, shapes_model_dir), engine=shapes_engine)
    assert again.resumed == 0
    assert deterministic(again.results) == deterministic(expected)
    assert set(again.results["timings"]["records"]) == {f"{r['method']}/{r['brief_id']}" for r in expected["records"]}
    # Another seed gives other briefs and other images.
    other = run_bench(config(out.with_name("other"), shapes_model_dir, seed=5, briefs=1, methods=("single",)),
                      engine=shapes_engine)
    assert other.results["records"][0]["shots"][0]["hash"] not in {
        r["shots"][0]["hash"] for r in expected["records"]}


def test_killed_benchmark_resumes_to_the_same_results(reference, shapes_engine, shapes_model_dir, tmp_path):
    out, expected = reference
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "evals.bench", "--briefs", "3", "--budget", "3", "--seed", "0", "--out", str(out),
           "--model", str(shapes_model_dir), "--steps", "6", "--no-progress"]
    # The same intra-op thread count as this process: float sums may differ with another.
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    log = tmp_path / "bench.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(out.glob("records/*/*.json"))) >= 4:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = len(list(out.glob("records/*/*.json")))
    assert 0 < done < TRIALS, log.read_text()[-2000:]
    assert not (out / "results.json").exists()

    resumed = run_bench(config(out, shapes_model_dir), engine=shapes_engine)
    assert resumed.resumed == done
    assert deterministic(resumed.results) == deterministic(expected)

    # A result lost after its agent run folder was written: the folder is replaced, not resumed into.
    (out / "records" / "agent" / "d2-001.json").unlink()
    assert (out / "agent-runs" / "d2-001" / "run.json").is_file()
    again = run_bench(config(out, shapes_model_dir), engine=shapes_engine)
    assert again.resumed == TRIALS - 1 and deterministic(again.results) == deterministic(expected)

    # Results made under other settings are never mixed in.
    with pytest.raises(BenchError, match="other settings"):
        run_bench(config(out, shapes_model_dir, budget=2), engine=shapes_engine)


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """sculpt"""

    register(app)
    return app


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "--budget must be at least 1"),
    (["--difficulty", "1,x"], "--difficulty takes whole numbers"),
    (["--methods", "single,beam"], "--methods takes distinct names"),
    (["--critic", "oracle"], "unknown critic spec 'oracle'"),
    (["--model", "{tmp}/no-model"], "is neither an existing folder"),
])
def test_bad_input_is_one_line_and_exit_2(app, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, ["bench", *args, "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_critic_exits_4_and_says_how_to_resume(app, tmp_path, shapes_model_dir):
    script = tmp_path / "down.json"
    script.write_text(json.dumps({"critiques": [{"error": "unavailable"}]}))
    result = CliRunner().invoke(app, [
        "bench", "--briefs", "1", "--budget", "2", "--methods", "single,best-of-n", "--critic", f"scripted:{script}",
        "--model", str(shapes_model_dir), "--steps", "4", "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 4, result.output
    assert "unreachable" in result.stderr and "rerun the same command" in result.stderr
    # What finished before the critic went away is kept for the rerun.
    assert (tmp_path / "out" / "records" / "single" / "d2-000.json").is_file()
