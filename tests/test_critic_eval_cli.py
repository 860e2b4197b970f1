"""``eval-critic`` end to end through Typer's CliRunner, on a generated file in every format."""
from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from evals.critic_eval.cli import register
from evals.critic_eval.fixtures import FORMATS, write_fixture


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """sculpt"""

    register(app)
    return app


def invoke(app, *args):
    return CliRunner().invoke(app, ["eval-critic", *map(str, args), "--no-progress", "--bootstrap", "200"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_end_to_end(app, fmt, tmp_path):
    data = write_fixture(fmt, tmp_path / "fx")
    out = tmp_path / "report"
    result = invoke(app, "--dataset", data, "--format", fmt, "--critic", "scene", "--critic", "scripted:first",
                    "--out", out, "--concurrency", 2, "--seed", 3)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    scene, first = metrics["critics"]
    assert (scene["label"], first["label"]) == ("scene", "scripted:first")
    # The fixtures are drawn so the exact critic agrees with every label, and a critic that always
    # prefers the first image shown flips on every pair.
    for method in ("no_ties", "with_ties", "pickscore"):
        assert scene["accuracy"][method]["value"] == 1.0
    assert scene["position"]["flip_rate"]["value"] == 0.0
    assert first["position"]["flip_rate"]["value"] == 1.0 and first["accuracy"]["no_ties"]["value"] == 0.0
    assert metrics["settings"]["seed"] == 3 and metrics["dataset"]["format"] == fmt
    assert (metrics["human_ceiling"] is not None) == (fmt == "hpdv2")
    md = (out / "report.md").read_text()
    assert "| scene | 1.000 [1.000, 1.000]" in md and "| scripted:first |" in md
    assert "![accuracy](plots/accuracy.png)" in md and (out / "plots" / "accuracy.png").is_file()
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') >= 2 and "scripted:first" in html
    lines = (out / "pairs.jsonl").read_text().splitlines()
    assert len(lines) == 2 * metrics["dataset"]["pairs"]


def test_rerun_reads_the_cache(app, tmp_path):
    data = write_fixture("picks", tmp_path / "fx")
    args = ("--dataset", data, "--format", "picks", "--critic", "scene", "--out", tmp_path / "r")
    assert invoke(app, *args).exit_code == 0
    assert invoke(app, *args).exit_code == 0
    usage = json.loads((tmp_path / "r" / "metrics.json").read_text())["critics"][0]["usage"]
    assert usage["fresh_calls_this_run"] == 0 and usage["cached_judgements"] > 0


def test_unreachable_critic_exits_4_and_says_how_to_resume(app, tmp_path):
    data = write_fixture("mjbench", tmp_path / "fx")
    script = tmp_path / "down.json"
    script.write_text(json.dumps({"critiques": [{"error": "unavailable"}]}))
    result = invoke(app, "--dataset", data, "--format", "mjbench", "--critic", f"scripted:{script}",
                    "--out", tmp_path / "out")
    assert result.exit_code == 4
    assert "is unreachable" in result.stderr and "rerunning the same command resumes" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--format", "pickapic", "--critic", "scene", "--dataset", "{tmp}/missing.parquet"), "does not exist"),
    (("--format", "pixels", "--critic", "scene", "--dataset", "{tmp}"), "unknown --format 'pixels'"),
    (("--format", "picks", "--critic", "oracle", "--dataset", "{tmp}"), "unknown critic spec 'oracle'"),
    (("--format", "picks", "--critic", "scene", "--dataset", "{tmp}", "--limit", "0"),
     "--limit must be at least 1"),
])
def test_bad_input_is_one_line_and_exit_code_2(app, tmp_path, args, message):
    result = invoke(app, *(a.format(tmp=tmp_path) for a in args), "--out", tmp_path / "out")
    assert result.exit_code == 2
    text = result.stderr
    assert text.startswith("error: ") and message in text and len(text.strip().splitlines()) == 1
