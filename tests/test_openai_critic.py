"""The model critic over real HTTP: the official openai client talking to a local chat-completions
server whose "model" is the shapes world's exact critic. What the critic reports must agree with
the exact critic; misbehaviour of the server is in test_openai_faults.py."""
from __future__ import annotations

import logging
import traceback

import pytest

from agent.critics.base import CriticUnavailable
from agent.critics.openai_critic import OpenAICritic, make_openai_critic
from agent.critics.registry import make_critic
from agent.critics.scene import SceneCritic
from tests.fake_openai_server import TEST_KEY, FakeOpenAIServer, clean_env, image_urls
from tests.fake_vlm_world import shapes_scene
from tools.errors import InputError


@pytest.fixture
def server(monkeypatch):
    clean_env(monkeypatch)
    with FakeOpenAIServer(models=("fake-vlm", "other-vlm")) as s:
        yield s


def critic_for(server: FakeOpenAIServer, model: str = "fake-vlm", **options) -> OpenAICritic:
    opts = {"api_key": TEST_KEY, "timeout": 5.0, "max_retries": 0, "reasks": 2, **options}
    return make_openai_critic(model, base_url=server.url, **opts)


# -- agreement with the exact critic ---------------------------------------------------------------
def test_critique_over_http_matches_the_exact_critic_on_20_briefs(server):
    critic, exact = critic_for(server), SceneCritic()
    outcomes = set()
    for i in range(20):
        brief, image, checklist = shapes_scene(seed=100 + i, n_objects=1 + i % 3, match=i % 2 == 0)
        want = exact.critique(image, brief, checklist)
        got = critic.critique(image, brief, checklist)
        assert [(v.id, v.passed) for v in got.verdicts] == [(v.id, v.passed) for v in want.verdicts], brief
        assert got.score == pytest.approx(want.score)
        for g, w in zip(got.verdicts, want.verdicts):
            assert (g.region is None) == (w.region is None or w.passed)
            if g.region is not None:
                assert g.region.as_tuple() == pytest.approx(w.region.as_tuple(), abs=1e-3)
        assert [d.requirement_ids for d in got.defects] == [d.requirement_ids for d in want.defects]
        assert got.critic == "openai:fake-vlm" and got.prompt_version == "critique@1"
        rec = server.chat_requests()[-1]
        assert (got.usage.calls, got.usage.input_tokens, got.usage.output_tokens) == (1, *rec.usage)
        outcomes.add(got.all_passed)
    assert outcomes == {True, False}  # the sample holds both passing and failing images


def test_the_recommendation_carries_the_fix_region(server):
    brief, image, checklist = shapes_scene(seed=7, n_objects=2, match=False)
    crit = critic_for(server).critique(image, brief, checklist)
    want = SceneCritic().critique(image, brief, checklist)
    local = [d for d in want.defects if d.region is not None]
    assert local, "this scene should fail locally"
    assert crit.recommended.kind == "inpaint"
    assert crit.recommended.region.as_tuple() == pytest.approx(local[0].region.as_tuple(), abs=1e-3)
    assert crit.defects[0].prompt == want.defects[0].prompt


def test_plan_over_http_gives_the_grammar_checklist(server):
    brief, _, checklist = shapes_scene(seed=3, n_objects=3)
    plan = critic_for(server).plan(brief)
    assert [(r.id, r.text, r.kind) for r in plan.checklist] == [(r.id, r.text, r.kind) for r in checklist]
    assert plan.prompt == SceneCritic().plan(brief).prompt
    assert plan.usage.calls == 1 and plan.usage.tokens > 0 and "plan@2" in plan.notes


@pytest.mark.parametrize("box_format", ["unit", "thousand", "pixels"])
def test_boxes_in_any_convention_become_the_same_regions(server, box_format):
    server.world.box_format = box_format
    brief, image, checklist = shapes_scene(seed=11, n_objects=2, size=96, match=False)
    want = SceneCritic().critique(image, brief, checklist)
    got = critic_for(server).critique(image, brief, checklist)
    pairs = [(g.region, w.region) for g, w in zip(got.verdicts, want.verdicts) if not w.passed and w.region]
    assert pairs, "this scene should have failures with regions"
    for g, w in pairs:
        assert g.as_tuple() == pytest.approx(w.as_tuple(), abs=1e-3)
    sent = server.chat_requests()[-1].body["messages"][1]["content"]
    assert any(isinstance(p, dict) and p.get("type") == "image_url" for p in sent)


def test_images_are_downscaled_to_the_configured_long_side_and_detail(server):
    brief, image, checklist = shapes_scene(seed=5, n_objects=2, size=256)
    crit = critic_for(server, image_side=128, image_detail="low").critique(image, brief, checklist)
    rec = server.chat_requests()[-1]
    assert rec.image_sizes == [(128, 128)] and rec.details == ["low"]
    assert crit.all_passed  # the smaller image still shows everything the brief asks for


# -- pairs, rankings, drift ------------------------------------------------------------------------
def test_compare_asks_both_orders_and_a_position_bias_becomes_a_tie(server):
    server.world.prefer = "first"  # a judge that always prefers the image shown first
    brief, good, checklist = shapes_scene(seed=21, n_objects=2)
    _, bad, _ = shapes_scene(seed=21, n_objects=2, match=False)
    result = critic_for(server).compare(good, bad, brief, checklist)
    assert result.tie and not result.position_consistent and result.usage.calls == 2
    first, second = server.chat_requests()[-2:]
    assert first.kind == second.kind == "compare"
    assert image_urls(first) == image_urls(second)[::-1]  # the same two images, swapped


def test_compare_with_a_consistent_judge_picks_the_better_image(server):
    brief, good, checklist = shapes_scene(seed=21, n_objects=2)
    _, bad, _ = shapes_scene(seed=21, n_objects=2, match=False)
    exact = SceneCritic()
    assert exact.critique(good, brief, checklist).score > exact.critique(bad, brief, checklist).score
    critic = critic_for(server)
    ab = critic.compare(good, bad, brief, checklist)
    ba = critic.compare(bad, good, brief, checklist)
    assert (ab.order, ab.tie, ab.position_consistent) == ([0, 1], False, True)
    assert (ba.order, ba.tie) == ([1, 0], False)
    assert ab.prompt_version == "compare@1" and ab.usage.calls == 2


def test_rank_orders_variations_like_the_exact_scores(server):
    brief, _, checklist = shapes_scene(seed=31, n_objects=3)
    images = [shapes_scene(seed=31 + k, n_objects=3, match=False)[1] for k in (1, 2)]
    images.insert(1, shapes_scene(seed=31, n_objects=3)[1])
    scores = [SceneCritic().critique(im, brief, checklist).score for im in images]
    ranking = critic_for(server).rank(images, brief, checklist)
    assert ranking.order == sorted(range(3), key=lambda i: (-scores[i], i))
    assert ranking.scores == pytest.approx(scores) and ranking.prompt_version == "rank@1"
    assert server.chat_requests()[-1].image_sizes == [(64, 64)] * 3
    # Two images go through compare, so position bias is cancelled there too.
    critic_for(server).rank(images[:2], brief, checklist)
    assert [r.kind for r in server.chat_requests()[-2:]] == ["compare", "compare"]


def test_drift_sends_both_images_and_names_lost_held_requirements(server):
    brief, before, checklist = shapes_scene(seed=41, n_objects=2)
    _, after, _ = shapes_scene(seed=41, n_objects=2, match=False)
    held = SceneCritic().critique(before, brief, checklist).passed_ids
    failed_after = SceneCritic().critique(after, brief, checklist).failed_ids
    report = critic_for(server).drift(before, after, brief, checklist, held)
    assert report.lost == [i for i in held if i in failed_after] and report.drifted
    rec = server.chat_requests()[-1]
    assert rec.kind == "drift" and len(rec.image_sizes) == 2 and report.usage.calls == 1
    n = len(server.chat_requests())
    assert critic_for(server).drift(before, after, brief, checklist, held=[]).lost == []
    assert len(server.chat_requests()) == n  # nothing held, nothing to ask
    with pytest.raises(InputError, match="not in the checklist"):
        critic_for(server).drift(before, after, brief, checklist, held=["nope"])


# -- cost ------------------------------------------------------------------------------------------
def test_cost_comes_from_the_price_table_in_the_config_file(server, tmp_path):
    cfg = tmp_path / "sculpt.toml"
    cfg.write_text('[vlm]\nreasks = 1\n[vlm.prices."fake-vlm"]\ninput = 2.0\noutput = 8.0\n')
    brief, image, checklist = shapes_scene(seed=51)
    critic = critic_for(server, config_file=str(cfg))
    crit = critic.critique(image, brief, checklist)
    tokens_in, tokens_out = server.chat_requests()[-1].usage
    assert crit.usage.cost_usd == pytest.approx((tokens_in * 2.0 + tokens_out * 8.0) / 1e6)
    assert critic.priced is True and "no price" not in critic.plan(brief).notes


def test_an_unpriced_model_costs_zero_and_says_so(server, caplog):
    brief, image, checklist = shapes_scene(seed=51)
    critic = critic_for(server, model="other-vlm")
    with caplog.at_level(logging.WARNING, logger="sculpt.vlm"):
        crit = critic.critique(image, brief, checklist)
    assert crit.usage.cost_usd == 0.0 and crit.usage.tokens > 0 and critic.priced is False
    assert "no price for model 'other-vlm'" in critic.plan(brief).notes
    assert "no price for model 'other-vlm'" in caplog.text


# -- the key ---------------------------------------------------------------------------------------
def test_the_api_key_never_leaks(server, caplog):
    caplog.set_level(logging.DEBUG)  # the openai client's and our own debug logs included
    brief, image, checklist = shapes_scene(seed=61, match=False)
    critic = critic_for(server)
    crit = critic.critique(image, brief, checklist)
    plan = critic.plan(brief)
    ranking = critic.compare(image, image, brief, checklist)
    server.fail("echo_auth")  # a proxy that reflects the Authorization header in its error
    with pytest.raises(CriticUnavailable) as err:
        critic.critique(image, brief, checklist)
    exc = err.value
    assert "401" in str(exc)
    texts = [repr(critic), str(critic.describe()), crit.model_dump_json(), plan.model_dump_json(),
             ranking.model_dump_json(), str(exc), repr(exc), "".join(traceback.format_exception(exc)),
             caplog.text, repr(critic.transport), repr(critic.settings)]
    for text in texts:
        assert TEST_KEY not in text
    # It was sent, and only where it belongs.
    for rec in server.chat_requests():
        assert rec.headers["authorization"] == f"Bearer {TEST_KEY}" and TEST_KEY not in rec.raw


# -- construction ----------------------------------------------------------------------------------
def test_the_registry_builds_it_and_rejects_bad_specs(server, monkeypatch):
    critic = make_critic("openai:fake-vlm", base_url=server.url, api_key=TEST_KEY, timeout=None)
    assert isinstance(critic, OpenAICritic) and critic.name == "openai:fake-vlm" and not critic.exact
    assert critic.order_invariant is False
    with pytest.raises(InputError, match="name the model"):
        make_critic("openai:", base_url=server.url)
    with pytest.raises(InputError, match="unknown option"):
        make_critic("openai:fake-vlm", base_url=server.url, temprature=0.3)
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        make_critic("openai:gpt-4o")  # OpenAI itself needs a key; none is set here
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    critic = make_critic("openai:fake-vlm")  # a local server from the environment needs no key
    brief, image, checklist = shapes_scene(seed=71)
    assert critic.critique(image, brief, checklist).all_passed
    assert server.chat_requests()[-1].headers["authorization"] == "Bearer not-needed"


def test_an_unknown_model_names_the_served_ones(server):
    brief, image, checklist = shapes_scene(seed=71)
    with pytest.raises(CriticUnavailable, match="404.*fake-vlm, other-vlm"):
        critic_for(server, model="no-such-model").critique(image, brief, checklist)
    assert any(r.path.endswith("/models") for r in server.requests)


def test_an_empty_checklist_is_an_input_error(server):
    _, image, _ = shapes_scene(seed=71)
    with pytest.raises(InputError, match="checklist is empty"):
        critic_for(server).critique(image, "a red circle", [])
    with pytest.raises(InputError, match="brief is empty"):
        critic_for(server).plan("  ")
    assert server.chat_requests() == []

