"""The model rewriter over real HTTP against the local test server."""
from __future__ import annotations

import pytest

from agent.critics.scene import SceneCritic
from agent.rewriters.llm import LLMRewriter, normalise
from agent.rewriters.registry import make_rewriter
from tests.fake_openai_server import TEST_KEY, FakeOpenAIServer, clean_env
from tests.fake_vlm_world import shapes_scene
from tools.shapes.parse import parse_brief


@pytest.fixture
def server(monkeypatch):
    clean_env(monkeypatch)
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture
def failing():
    """(brief, image, checklist, exact critique) of an image that fails its brief."""
    brief, image, checklist = shapes_scene(seed=13, n_objects=2, match=False)
    return brief, image, checklist, SceneCritic().critique(image, brief, checklist)


def rewriter_for(server: FakeOpenAIServer, **options) -> LLMRewriter:
    opts = {"api_key": TEST_KEY, "timeout": 5.0, "max_retries": 0, "reasks": 2, **options}
    return make_rewriter("openai:fake-vlm", base_url=server.url, **opts)


def test_rewrite_gives_a_prompt_not_yet_tried(server, failing):
    brief, _, checklist, crit = failing
    canonical = parse_brief(brief).text()
    out = rewriter_for(server).rewrite(brief, checklist, crit, current_prompt=canonical, tried=[canonical])
    assert normalise(out.prompt) != normalise(canonical) and out.prompt.startswith(canonical)
    assert out.prompt_version == "rewrite@1" and out.usage.calls == 1
    user = server.chat_requests()[-1].body["messages"][1]["content"]
    # The critique's failures and the tried prompts reach the model in their delimited blocks.
    assert "<tried>" in user and canonical in user and crit.failed_ids[0] in user


def test_a_repeated_prompt_is_reasked_then_replaced(server, failing):
    brief, _, checklist, crit = failing
    canonical = parse_brief(brief).text()
    server.fail("repeat")
    rewriter = rewriter_for(server)
    out = rewriter.rewrite(brief, checklist, crit, current_prompt="x", tried=[canonical])
    assert normalise(out.prompt) not in {normalise(canonical), "x"}
    reask = server.chat_requests()[-1].body["messages"][-1]["content"]
    assert "was already tried" in reask and out.usage.calls == 2 and rewriter.spent.calls == 2


def test_a_model_that_only_repeats_gives_none(server, failing):
    brief, _, checklist, crit = failing
    canonical = parse_brief(brief).text()
    server.fail("repeat", "repeat")
    rewriter = rewriter_for(server, reasks=1)
    out = rewriter.rewrite(brief, checklist, crit, current_prompt="x", tried=[canonical])
    assert out.prompt is None and out.usage.calls >= 2  # what the repeated attempts cost is still reported
    assert rewriter.spent.calls == 2  # what the attempts cost is still counted


def test_the_image_is_sent_only_with_vision_on(server, failing):
    brief, image, checklist, crit = failing
    rewriter_for(server).rewrite(brief, checklist, crit, "x", [], image=image)
    assert server.chat_requests()[-1].image_sizes == []
    rewriter_for(server, rewrite_vision=True).rewrite(brief, checklist, crit, "x", [], image=image)
    assert server.chat_requests()[-1].image_sizes == [image.size]


def test_region_prompt_names_only_what_belongs_in_the_region(server, failing):
    brief, _, checklist, crit = failing
    rewriter = rewriter_for(server)
    with_hint = next(d for d in crit.defects if d.prompt)
    out = rewriter.region_prompt(brief, checklist, with_hint, crit, current_prompt=brief)
    assert out.prompt == with_hint.prompt and out.prompt_version == "region_prompt@1"
    # Without the critic's suggestion the prompt is made from the requirement the defect fixes.
    add = next(d for d in crit.defects if d.kind != "remove")
    out = rewriter.region_prompt(brief, checklist, add.model_copy(update={"prompt": None}), crit, brief)
    b = parse_brief(brief)
    group = b.groups[int(add.requirement_ids[0][1])].model_copy(update={"count": 1, "position": None})
    assert out.prompt == f"{group.phrase()}, {b.background or 'white'} background"
    assert "<defect>" in server.chat_requests()[-1].body["messages"][1]["content"]
