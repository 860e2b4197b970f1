"""A rewriter that fails is the rewriter's own error, not the critic's: the run goes on with the
current prompt (agent/nodes/rewrite.py), and a failing critic is still what stops a run."""
from __future__ import annotations

import pytest

from agent.critics.base import CriticError
from agent.lifecycle import Run
from agent.rewriters import registry
from agent.rewriters.base import Rewriter, RewriterError, RewriterUnavailable
from agent.spec import RunSpec
from tests.fake_openai_server import TEST_KEY, Fault, FakeOpenAIServer, clean_env
from tests.fake_vlm_world import shapes_scene
from tools.errors import Unreachable


@pytest.fixture
def server(monkeypatch):
    clean_env(monkeypatch)
    with FakeOpenAIServer() as s:
        yield s


def test_an_unreachable_rewriter_raises_its_own_error_with_its_cost(server):
    brief, image, checklist = shapes_scene(seed=13, n_objects=2, match=False)
    from agent.critics.scene import SceneCritic

    crit = SceneCritic().critique(image, brief, checklist)
    rewriter = registry.make_rewriter("openai:fake-vlm", base_url=server.url, api_key=TEST_KEY, max_retries=0)
    server.fail(Fault("status", status=500))
    with pytest.raises(RewriterUnavailable, match="HTTP 500") as err:
        rewriter.rewrite(brief, checklist, crit, current_prompt="x", tried=[])
    assert isinstance(err.value, Unreachable) and not isinstance(err.value, CriticError)
    assert err.value.usage.calls == 1 and rewriter.spent.calls == 1
    server.fail("invalid_json", "invalid_json", "invalid_json")
    with pytest.raises(RewriterError, match="no usable reply in 3 attempt") as err:
        rewriter.rewrite(brief, checklist, crit, current_prompt="x", tried=[])
    assert not isinstance(err.value, (CriticError, RewriterUnavailable)) and err.value.usage.calls == 3


class _Failing(Rewriter):
    """A rewriter whose model never answers (what a server that is down looks like to the node)."""

    name = "failing"

    def rewrite(self, *args, **kwargs):
        raise RewriterUnavailable("the rewriter's server is down")

    def region_prompt(self, *args, **kwargs):
        raise RewriterUnavailable("the rewriter's server is down")


def test_a_failing_rewriter_leaves_the_action_to_go_ahead_with_the_current_prompt(shapes_engine, tmp_path):
    registry.register("failing", lambda arg, **_: _Failing())
    spec = RunSpec(brief="a red circle, white background", rewriter="failing", mode="chat",
                   budget={"generations": 3})
    with Run.start(spec, tmp_path, engine=shapes_engine) as run:
        res = run.advance()
        assert res.waiting
        node = res.question["node"]
        # A region to redo with no words for it: the rewriter is asked to write them, and fails.
        res = run.advance({"action": "region", "region": [0.1, 0.1, 0.6, 0.6]})
        events = run.store.events()
    errors = [e for e in events if e.node == "rewrite_prompt" and e.error]
    assert len(errors) == 1 and "server is down" in errors[0].error
    kept = errors[0].kept
    made = [n for n in res.state["nodes"].values() if n.get("parent") == node]
    assert len(made) == 1 and made[0]["action"]["kind"] == "inpaint" and made[0]["action"]["prompt"] == kept
