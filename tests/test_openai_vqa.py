"""VQAScore over a server (``openai:MODEL`` with ``mode=vqa``): P(yes) from the logprobs of the first
answer token, against the local chat-completions server, with and without logprobs."""
from __future__ import annotations

import pytest

from agent.critics.base import CriticReplyError
from agent.critics.openai_critic import OpenAIVQACritic
from agent.critics.registry import make_critic
from agent.critics.scene import SceneCritic
from tests.fake_openai_server import TEST_KEY, FakeOpenAIServer, clean_env, image_urls
from tests.fake_vlm_world import shapes_scene
from tools.errors import InputError


@pytest.fixture
def server(monkeypatch):
    clean_env(monkeypatch)
    with FakeOpenAIServer() as s:
        yield s


def vqa_critic(server, **options):
    return make_critic("openai:fake-vlm", base_url=server.url, api_key=TEST_KEY, max_retries=0, mode="vqa",
                       **options)


def test_verdicts_are_the_probability_of_yes_from_logprobs(server):
    critic = vqa_critic(server)
    assert isinstance(critic, OpenAIVQACritic) and critic.order_invariant
    for seed, match in ((3, True), (4, False)):
        brief, image, checklist = shapes_scene(seed=seed, n_objects=2, match=match)
        server.world.briefs.append(brief)
        want = SceneCritic().critique(image, brief, checklist)
        got = critic.critique(image, brief, checklist)
        assert [(v.id, v.passed) for v in got.verdicts] == [(v.id, v.passed) for v in want.verdicts]
        assert all(v.confidence == pytest.approx(0.9) for v in got.verdicts)  # the world's P(yes) is 0.9 or 0.1
        p = [0.9 if v.passed else 0.1 for v in want.verdicts]
        assert got.score == pytest.approx(sum(p) / len(p)) and got.prompt_version == "vqascore@1"
        asked = server.chat_requests()[-len(checklist):]
        assert [r.kind for r in asked] == ["vqa"] * len(checklist) and got.usage.calls == len(checklist)
        for rec, req in zip(asked, checklist):
            content = rec.body["messages"][0]["content"]
            # The image first, then the versioned question; the first token's top 20 alternatives.
            assert content[0]["type"] == "image_url" and content[1]["text"] == \
                f'Does this figure show "{req.text}"? Please answer Yes or No.'
            assert rec.body["logprobs"] is True and rec.body["top_logprobs"] == 20
            assert rec.body["max_tokens"] == 1 and len(rec.body["messages"]) == 1


def test_a_threshold_moves_the_verdict_not_the_probability(server):
    brief, image, checklist = shapes_scene(seed=3, n_objects=1)
    server.world.briefs.append(brief)
    lenient = vqa_critic(server, threshold=0.05).critique(image, brief, checklist)
    strict = vqa_critic(server, threshold=0.95).critique(image, brief, checklist)
    assert lenient.all_passed and not any(v.passed for v in strict.verdicts)
    assert lenient.score == strict.score


def test_a_server_without_logprobs_is_named_with_the_advice_to_use_judge_mode(server):
    server.logprobs = False
    brief, image, checklist = shapes_scene(seed=3, n_objects=1)
    with pytest.raises(CriticReplyError) as err:
        vqa_critic(server).critique(image, brief, checklist)
    message = str(err.value)
    assert "\n" not in message and "openai:fake-vlm at http://127.0.0.1" in message
    assert "returned no logprobs" in message and "mode=judge" in message
    assert err.value.usage.calls == 1  # the one question asked is still charged


def test_rank_and_compare_follow_the_critiques_in_either_order(server):
    brief, good, checklist = shapes_scene(seed=21, n_objects=2)
    _, bad, _ = shapes_scene(seed=21, n_objects=2, match=False)
    server.world.briefs.append(brief)
    critic = vqa_critic(server)
    ab, ba = critic.compare(good, bad, brief, checklist), critic.compare(bad, good, brief, checklist)
    assert (ab.order, ba.order) == ([0, 1], [1, 0]) and not ab.tie
    ranking = critic.rank([bad, good, bad], brief, checklist)
    assert ranking.order == [1, 0, 2]
    assert ranking.scores[1] == critic.critique(good, brief, checklist).score
    assert {r.kind for r in server.chat_requests()} == {"vqa"}  # no pairwise prompt: probabilities only
    # The same image is sent whichever order it is judged in.
    urls = {u for r in server.chat_requests() for u in image_urls(r)}
    assert len(urls) == 2


def test_judge_mode_stays_the_default_and_options_are_checked(server):
    critic = make_critic("openai:fake-vlm", base_url=server.url, api_key=TEST_KEY)
    assert not isinstance(critic, OpenAIVQACritic) and critic.order_invariant is False
    with pytest.raises(InputError, match=r"unknown option\(s\) \['tresh'\].*threshold"):
        vqa_critic(server, tresh=0.3)
    with pytest.raises(InputError, match="option mode='yesno'"):
        make_critic("openai:fake-vlm", base_url=server.url, mode="yesno")
    with pytest.raises(InputError, match="threshold"):
        vqa_critic(server, threshold="1.5")
