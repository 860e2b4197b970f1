"""What the model critic does when the server misbehaves: each fault is injected into a real HTTP
exchange between the official openai client and the local test server."""
from __future__ import annotations

import socket
import time

import pytest

from agent.critics.base import CriticReplyError, CriticUnavailable
from agent.critics.openai_critic import OpenAICritic, make_openai_critic
from agent.critics.scene import SceneCritic
from agent.vlm.images import decode, encode
from tests.fake_openai_server import TEST_KEY, FakeOpenAIServer, Fault, clean_env
from tests.fake_vlm_world import shapes_scene


@pytest.fixture
def server(monkeypatch):
    clean_env(monkeypatch)
    with FakeOpenAIServer(models=("fake-vlm", "other-vlm")) as s:
        yield s


@pytest.fixture
def scene():
    return shapes_scene(seed=8, n_objects=2, match=False)


def critic_for(server: FakeOpenAIServer, model: str = "fake-vlm", **options) -> OpenAICritic:
    opts = {"api_key": TEST_KEY, "timeout": 5.0, "max_retries": 0, "reasks": 2, **options}
    return make_openai_critic(model, base_url=server.url, **opts)


def exact_passes(scene):
    brief, image, checklist = scene
    return [v.passed for v in SceneCritic().critique(image, brief, checklist).verdicts]


def reask_text(rec) -> str:
    """The re-ask message: the last user message of a request that carries a previous reply."""
    messages = rec.body["messages"]
    assert messages[-2]["role"] == "assistant", "not a re-ask"
    return messages[-1]["content"]


# -- structured-output fallbacks -------------------------------------------------------------------
def test_json_schema_refused_falls_back_to_json_object_once_per_server_and_model(server, scene):
    server.reject_json_schema = True
    brief, image, checklist = scene
    first = critic_for(server).critique(image, brief, checklist)
    second_critic = critic_for(server)  # a new critic for the same server and model
    second_critic.critique(image, brief, checklist)
    second_critic.plan(brief)
    formats = [r.response_format for r in server.chat_requests()]
    assert formats == ["json_schema", "json_object", "json_object", "json_object"]
    assert [v.passed for v in first.verdicts] == exact_passes(scene)
    assert first.usage.calls == 2  # the refused probe is counted
    assert second_critic.describe()["structured_mode"] == "json_object"
    critic_for(server, model="other-vlm").critique(image, brief, checklist)  # another model: probed anew
    assert [r.response_format for r in server.chat_requests()[-2:]] == ["json_schema", "json_object"]


def test_no_response_format_at_all_falls_back_to_reading_json_from_text(server, scene):
    server.reject_json_schema = server.reject_json_object = True
    brief, image, checklist = scene
    crit = critic_for(server).critique(image, brief, checklist)
    assert [r.response_format for r in server.chat_requests()] == ["json_schema", "json_object", None]
    assert [v.passed for v in crit.verdicts] == exact_passes(scene)
    # The schema went into the system message instead, and the fenced reply was read as is.
    system = server.chat_requests()[-1].body["messages"][0]["content"]
    assert "matches this JSON schema" in system and '"verdicts"' in system
    assert "```json" in server.chat_requests()[-1].reply
    critic_for(server).critique(image, brief, checklist)
    assert server.chat_requests()[-1].response_format is None and len(server.chat_requests()) == 4


def test_a_forced_mode_is_used_without_probing(server, scene):
    brief, image, checklist = scene
    critic_for(server, structured="text").critique(image, brief, checklist)
    assert [r.response_format for r in server.chat_requests()] == [None]


def test_json_in_code_fences_is_read_without_reasking(server, scene):
    server.fail("fenced")
    brief, image, checklist = scene
    crit = critic_for(server).critique(image, brief, checklist)
    assert len(server.chat_requests()) == 1 and [v.passed for v in crit.verdicts] == exact_passes(scene)


# -- re-asking -------------------------------------------------------------------------------------
def test_invalid_json_is_reasked_with_the_error(server, scene):
    server.fail("invalid_json")
    brief, image, checklist = scene
    crit = critic_for(server).critique(image, brief, checklist)
    bad, good = server.chat_requests()
    assert bad.body["messages"][-1]["role"] == "user" and len(bad.body["messages"]) == 2
    assert "not valid JSON" in reask_text(good)
    assert good.body["messages"][-2]["content"] == bad.reply  # the model sees what it said
    assert [v.passed for v in crit.verdicts] == exact_passes(scene)
    assert crit.usage.calls == 2
    assert (crit.usage.input_tokens, crit.usage.output_tokens) == tuple(map(sum, zip(bad.usage, good.usage)))


def test_a_schema_violation_is_reasked_with_the_validation_error(server, scene):
    server.fail("schema_error")  # the reply lacks its first field, "verdicts"
    brief, image, checklist = scene
    crit = critic_for(server).critique(image, brief, checklist)
    text = reask_text(server.chat_requests()[1])
    assert "verdicts: Field required" in text
    assert [v.passed for v in crit.verdicts] == exact_passes(scene)


def test_a_missing_verdict_is_reasked_naming_the_id(server, scene):
    server.fail("missing_verdict")
    brief, image, checklist = scene
    crit = critic_for(server).critique(image, brief, checklist)
    assert f"missing ['{checklist[-1].id}']" in reask_text(server.chat_requests()[1])
    assert [v.id for v in crit.verdicts] == [r.id for r in checklist]


def test_the_final_error_carries_the_last_reply_and_all_usage(server, scene):
    server.fail("schema_error", Fault("content", text='Let me see.\n{"verdicts": [oops]}\n'))
    brief, image, checklist = scene
    with pytest.raises(CriticReplyError, match="no usable reply in 2 attempt") as err:
        critic_for(server, reasks=1).critique(image, brief, checklist)
    first, last = server.chat_requests()
    assert "Field required" in reask_text(last)
    assert err.value.last_reply == last.reply == 'Let me see.\n{"verdicts": [oops]}\n'  # as sent, verbatim
    assert "not valid JSON" in str(err.value)
    assert err.value.usage.calls == 2
    assert err.value.usage.input_tokens == first.usage[0] + last.usage[0]
    assert err.value.usage.output_tokens == first.usage[1] + last.usage[1]


# -- transport errors ------------------------------------------------------------------------------
def test_429_with_retry_after_is_retried_by_the_client(server, scene):
    server.fail(Fault("status", status=429, retry_after=1))
    brief, image, checklist = scene
    t0 = time.perf_counter()
    crit = critic_for(server, max_retries=1).critique(image, brief, checklist)
    assert time.perf_counter() - t0 >= 0.9  # the server's Retry-After was honoured
    assert [r.status for r in server.chat_requests()] == [429, 200]
    assert [v.passed for v in crit.verdicts] == exact_passes(scene)


@pytest.mark.parametrize("status, words", [(429, "rate-limited"), (500, "server error"), (503, "server error")])
def test_errors_that_outlast_the_retries_make_the_critic_unavailable(server, scene, status, words):
    server.fail(*[Fault("status", status=status, retry_after=0.05)] * 2)
    brief, image, checklist = scene
    with pytest.raises(CriticUnavailable, match=f"HTTP {status}.*{words} after 1 retries") as err:
        critic_for(server, max_retries=1).critique(image, brief, checklist)
    assert "\n" not in str(err.value) and err.value.usage.calls == 1
    assert len(server.chat_requests()) == 2


def test_a_reply_slower_than_the_timeout(server, scene):
    brief, image, checklist = scene
    server.fail(Fault("slow", seconds=1.0))
    with pytest.raises(CriticUnavailable, match="no reply within 0.3 s"):
        critic_for(server, timeout=0.3).critique(image, brief, checklist)
    server.fail(Fault("slow", seconds=1.0))  # once slow, then prompt: the client's retry gets it
    crit = critic_for(server, timeout=0.3, max_retries=1).critique(image, brief, checklist)
    assert [v.passed for v in crit.verdicts] == exact_passes(scene)


def test_an_unreachable_server(scene, monkeypatch):
    clean_env(monkeypatch)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free now, and nobody listens on it
    critic = make_openai_critic("fake-vlm", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=2)
    brief, image, checklist = scene
    with pytest.raises(CriticUnavailable, match="cannot connect.*is the server running"):
        critic.critique(image, brief, checklist)


# -- replies that say nothing ----------------------------------------------------------------------
@pytest.mark.parametrize("fault, words", [("refusal", "refused to answer: I'm sorry"),
                                          ("empty", "empty reply"), ("no_choices", "no choices")])
def test_replies_without_an_answer_are_reply_errors(server, scene, fault, words):
    server.fail(fault)
    brief, image, checklist = scene
    with pytest.raises(CriticReplyError, match=words) as err:
        critic_for(server).critique(image, brief, checklist)
    assert err.value.usage.calls == 1 and err.value.usage.tokens > 0  # not re-asked: it would refuse again
    assert len(server.chat_requests()) == 1


# -- images the server will not take ---------------------------------------------------------------
def test_an_image_refused_as_too_large_is_resent_at_half_the_side(server):
    server.max_image_side = 100
    brief, image, checklist = shapes_scene(seed=9, n_objects=1, size=256)
    critic = critic_for(server, image_side=160)
    crit = critic.critique(image, brief, checklist)
    assert [(r.status, r.image_sizes) for r in server.chat_requests()] == [(400, [(160, 160)]), (200, [(80, 80)])]
    small = decode(encode(image, 80).url)  # what the server judged
    assert [v.passed for v in crit.verdicts] == [v.passed for v in SceneCritic().critique(
        small, brief, checklist).verdicts]
    critic.critique(image, brief, checklist)  # the smaller side is kept: no second refusal
    assert server.chat_requests()[-1].image_sizes == [(80, 80)] and len(server.chat_requests()) == 3


def test_an_image_too_large_even_at_half_fails_with_a_clear_message(server):
    server.max_image_side = 50
    brief, image, checklist = shapes_scene(seed=9, n_objects=1, size=256)
    with pytest.raises(CriticUnavailable, match="too large.*80 px.*image_side") as err:
        critic_for(server, image_side=160).critique(image, brief, checklist)
    assert [r.image_sizes for r in server.chat_requests()] == [[(160, 160)], [(80, 80)]]
    assert err.value.usage.calls == 2
