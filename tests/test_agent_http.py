"""The whole agent over HTTP: `sculpt run --critic openai:...` against a real local server that
speaks the chat-completions protocol (answering from the exact shapes critic)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import sculpt_app
from agent.critics.registry import make_critic
from agent.critics.scene import SceneCritic
from agent.lifecycle import run_brief
from agent.spec import RunSpec
from tests.fake_openai_server import FakeOpenAIServer

app = sculpt_app()

SECRET = "sk-test-4f1c9e-do-not-leak"


@pytest.fixture
def server(monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SCULPT_VLM_BASE_URL", "SCULPT_VLM_API_KEY",
                "SCULPT_VLM_CONFIG", "SCULPT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    with FakeOpenAIServer(models=("fake-vlm",)) as s:
        yield s


def test_cli_run_over_http_completes_and_never_stores_the_key(server, shapes_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [
        "run", "a green triangle to the left of a red square, white background", "--critic", "openai:fake-vlm",
        "--critic-base-url", server.url, "--model", str(shapes_model_dir), "--budget", "3", "--steps", "6",
        "--out", str(tmp_path / "runs")])
    assert result.exit_code in (0, 3), result.output
    run_dir = next((tmp_path / "runs").iterdir())
    assert (run_dir / "report.html").is_file() and (run_dir / "checkpoint.sqlite").is_file()
    kinds = [r.kind for r in server.requests]
    assert "plan" in kinds and kinds.count("critique") >= 1
    # The key went over the wire in the Authorization header and nowhere else.
    auth = [{k.lower(): v for k, v in r.headers.items()}.get("authorization", "") for r in server.requests]
    assert all(SECRET in a for a in auth)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the API key leaked into {path.name}"
    assert SECRET not in result.output
    info = json.loads((run_dir / "run.json").read_text())
    assert info["spec"]["critic"] == "openai:fake-vlm" and info["spec"]["critic_options"] == {"base_url": server.url}


@pytest.mark.parametrize("brief", [
    "a blue square, white background",
    "a red circle to the left of a blue square, yellow background",
    "a green triangle above a purple diamond, white background",
])
def test_agent_over_http_matches_the_direct_exact_critic(server, shapes_engine, tmp_path, brief):
    """Same rules, same verdicts: the run over HTTP makes the same tree as the run with the exact critic."""
    # A model critic's passes are confirmed and its claimed losses checked against the pixels; the
    # exact critic's are not; and only the exact critic reports where every object is, which the
    # layout planner, the repaints that spare neighbours and the second look use. Those rules off,
    # the two runs must agree image for image.
    spec = RunSpec(brief=brief, budget={"generations": 4}, rewriter="rules", seed=3,
                   policy={"confirm_accept": False, "doubt_drift": False, "plan_layout": False,
                           "spare_neighbours": False, "second_look": False})
    direct = run_brief(spec, tmp_path / "direct", engine=shapes_engine, critic=SceneCritic())
    http = run_brief(spec, tmp_path / "http", engine=shapes_engine,
                     critic=make_critic("openai:fake-vlm", base_url=server.url, api_key="sk-local"))
    assert http.status == direct.status and http.best_score == direct.best_score

    def tree(res):
        return [(i, n.get("parent"), (n.get("action") or {}).get("kind"), n.get("image_hash"),
                 sorted((n.get("critique") or {}).get("failed", []))) for i, n in sorted(res.state["nodes"].items())]

    assert tree(http) == tree(direct)
