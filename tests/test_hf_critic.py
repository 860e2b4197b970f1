"""The hf: critic on tiny random-weight models of three families (tests/tiny_vlms.py), loaded only
through the spec. Random weights answer noise, so these tests check the protocol: the probability
read, batching, the agreed prompt, one verdict however it is asked for, replies that always parse."""
from __future__ import annotations

import pytest
import torch

from agent.critics.hf_critic import HFCritic
from agent.critics.registry import alias, make_critic
from agent.vlm.grammar import ReplyShape, bounded_schema, choose_from, one_per_id
from agent.vlm.hf_vqa import yes_token_ids
from agent.vlm.schema import CritiqueReply
from tests.fake_vlm_world import shapes_scene
from tests.tiny_vlms import VLM_FAMILIES
from tools.errors import InputError


@pytest.fixture(scope="module")
def scene():
    return shapes_scene(seed=3, n_objects=2, match=False)


@pytest.mark.parametrize("family", VLM_FAMILIES)
def test_batched_vqascore_equals_one_question_at_a_time(tiny_vlm_dir, scene, family):
    brief, image, checklist = scene
    batched = make_critic(f"hf:{tiny_vlm_dir(family)}", localise="off")
    single = make_critic(f"hf:{tiny_vlm_dir(family)}", batched="false", localise="off")
    assert batched.vlm is single.vlm  # one model per process, shared
    assert batched.vlm.encodes_image_once  # the image goes through the vision tower once per batch
    a, b = batched.critique(image, brief, checklist), single.critique(image, brief, checklist)
    probs_a = [v.confidence if v.passed else 1 - v.confidence for v in a.verdicts]
    probs_b = [v.confidence if v.passed else 1 - v.confidence for v in b.verdicts]
    assert probs_a == pytest.approx(probs_b, abs=1e-5) and a.score == pytest.approx(b.score, abs=1e-5)
    assert a.usage.calls == 1 and b.usage.calls == len(checklist)  # one forward pass against one per question
    assert a.prompt_version == "vqascore@1" and a.critic == f"hf:{tiny_vlm_dir(family)}"


@pytest.mark.parametrize("family", VLM_FAMILIES)
def test_p_yes_is_the_softmax_of_yes_at_the_last_position_of_the_agreed_prompt(tiny_vlm_dir, scene, family):
    brief, image, checklist = scene
    critic = make_critic(f"hf:{tiny_vlm_dir(family)}", threshold="0", localise="off")
    vlm = critic.vlm
    req = checklist[0]
    question = f'Does this figure show "{req.text}"? Please answer Yes or No.'
    if family == "paligemma":  # no chat template: the processor's own plain-prompt convention
        assert not vlm.has_chat_template
        inputs = vlm.processor(images=[image.convert("RGB")], text=[question], return_tensors="pt")
    else:
        turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        text = vlm.processor.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)
        inputs = vlm.processor(images=[image.convert("RGB")], text=text, return_tensors="pt")
    inputs.pop("labels", None)
    with torch.no_grad():
        logits = vlm.model(**inputs).logits[0, -1].float()
    want = torch.softmax(logits, -1)[yes_token_ids(vlm.tokenizer)].sum().item()
    got = critic.critique(image, brief, [req]).verdicts[0]
    assert got.passed and got.confidence == pytest.approx(want, rel=1e-4)  # threshold 0: P(yes) is the confidence


def test_yes_and_its_single_token_variants_are_summed(tiny_vlm_dir):
    tok = make_critic(f"hf:{tiny_vlm_dir('llava')}").vlm.tokenizer
    ids = yes_token_ids(tok)
    assert ids[0] == tok.encode("Yes", add_special_tokens=False)[0] and len(ids) == len(set(ids))
    singles = [v for v in (" Yes", "yes") if len(tok.encode(v, add_special_tokens=False)) == 1]
    assert len(ids) == 1 + len({tok.encode(v, add_special_tokens=False)[0] for v in singles} - {ids[0]})


def test_a_verdict_is_the_same_through_critique_rank_and_compare(tiny_vlm_dir, scene):
    brief, image, checklist = scene
    _, other, _ = shapes_scene(seed=8, n_objects=2)
    critic = make_critic(f"hf:{tiny_vlm_dir('llava')}")
    a, b = critic.critique(image, brief, checklist), critic.critique(other, brief, checklist)
    assert a.score != b.score  # two images the model tells apart (or the checks below prove nothing)
    ranking = critic.rank([image, other], brief, checklist)
    assert ranking.scores == [a.score, b.score]
    assert ranking.order == ([0, 1] if a.score > b.score else [1, 0])
    ab, ba = critic.compare(image, other, brief, checklist), critic.compare(other, image, brief, checklist)
    assert ab.order == ranking.order and ba.order == [1 - i for i in ranking.order] and ab.position_consistent
    again = critic.critique(image, brief, checklist)
    assert [(v.id, v.passed, v.confidence) for v in again.verdicts] == [(v.id, v.passed, v.confidence)
                                                                        for v in a.verdicts]
    # The threshold decides the verdict, the probability stays.
    strict = make_critic(f"hf:{tiny_vlm_dir('llava')}", threshold="1").critique(image, brief, checklist)
    lenient = make_critic(f"hf:{tiny_vlm_dir('llava')}", threshold="0").critique(image, brief, checklist)
    assert not any(v.passed for v in strict.verdicts) and lenient.all_passed and strict.score == lenient.score


@pytest.mark.parametrize("family", ["idefics3", "llava"])
def test_a_random_judge_always_answers_in_the_critique_schema(tiny_vlm_dir, family):
    critic = make_critic(f"hf:{tiny_vlm_dir(family)}", mode="judge", max_tokens="500", reasks="0")
    for seed in (1, 2):
        brief, image, checklist = shapes_scene(seed=seed, n_objects=2, match=False)
        crit = critic.critique(image, brief, checklist)  # no re-ask allowed: the first reply must do
        assert [v.id for v in crit.verdicts] == [r.id for r in checklist]
        assert 0 <= crit.score <= 1 and crit.prompt_version == "critique@1"
        assert all(i in [r.id for r in checklist] for d in crit.defects for i in d.requirement_ids)
        assert crit.usage.output_tokens > 0 and crit.usage.calls == crit.usage.output_tokens
        # The grammar's longest reply (plus the end of turn) bounds what was generated.
        ids = [r.id for r in checklist]
        shape = ReplyShape(CritiqueReply, {"verdicts": one_per_id(ids),
                                           "defects.items.requirement_ids.items": choose_from(ids)})
        assert crit.usage.output_tokens <= bounded_schema(shape, 500).max_bytes + 1


def test_plans_shapes_briefs_by_the_grammar_and_free_briefs_by_the_model(tiny_vlm_dir):
    brief, _, checklist = shapes_scene(seed=4, n_objects=2)
    judge = make_critic(f"hf:{tiny_vlm_dir('idefics3')}", mode="judge", max_tokens="600")
    plan = judge.plan(brief)
    assert plan.checklist == checklist and plan.usage.calls == 0  # exact, no model call
    free = judge.plan("a cat asleep on a red sofa, watercolour")
    ids = [r.id for r in free.checklist]
    assert ids == [f"r{i + 1}" for i in range(len(ids))] and free.prompt and free.usage.calls > 0
    assert "plan@2" in free.notes
    # VQA mode plans free briefs with the same model; a model without a chat template cannot write one.
    assert make_critic(f"hf:{tiny_vlm_dir('llava')}").plan("a cat on a sofa").usage.calls > 0
    with pytest.raises(InputError, match="cannot plan a free-form brief"):
        make_critic(f"hf:{tiny_vlm_dir('paligemma')}").plan("a cat on a sofa")
    assert make_critic(f"hf:{tiny_vlm_dir('paligemma')}").plan(brief).checklist == checklist


def test_localise_auto_uses_loc_tokens_only_where_the_tokenizer_has_them(tiny_vlm_dir, scene):
    pali = make_critic(f"hf:{tiny_vlm_dir('paligemma')}")
    assert pali.vlm.has_loc_tokens and pali.localiser is not None
    assert make_critic(f"hf:{tiny_vlm_dir('paligemma')}", localise="off").localiser is None
    llava = make_critic(f"hf:{tiny_vlm_dir('llava')}")
    assert not llava.vlm.has_loc_tokens and llava.localiser is None
    with pytest.raises(InputError, match="no <loc0000>"):
        make_critic(f"hf:{tiny_vlm_dir('llava')}", localise="on")
    brief, image, checklist = scene
    crit = pali.critique(image, brief, checklist)
    # Whatever the noise found, every object and every region it gave is marked as the localiser's.
    assert all(o.source == "localiser" for o in crit.objects)
    assert all(v.region.source == "localiser" for v in crit.verdicts if v.region)
    assert crit.usage.calls > 1  # the VQA pass and the generation that looked for the objects


def test_options_are_checked_and_an_alias_loads_like_its_spec(tiny_vlm_dir):
    with pytest.raises(InputError, match=r"unknown option\(s\) \['temperature'\] for the hf critic; its options: "
                                         r".*localise, max_tokens, mode"):
        make_critic(f"hf:{tiny_vlm_dir('llava')}", temperature="0")
    with pytest.raises(InputError, match="option mode='chat'"):
        make_critic(f"hf:{tiny_vlm_dir('llava')}", mode="chat")
    with pytest.raises(InputError, match="judge mode needs a chat template"):
        make_critic(f"hf:{tiny_vlm_dir('paligemma')}", mode="judge")
    alias("tiny-vlm", f"hf:{tiny_vlm_dir('llava')}")
    critic = make_critic("tiny-vlm", threshold="0.3")
    assert isinstance(critic, HFCritic) and critic.name == f"hf:{tiny_vlm_dir('llava')}"
    assert critic.vlm is make_critic(f"hf:{tiny_vlm_dir('llava')}").vlm
    with pytest.raises(InputError, match="takes no argument"):
        make_critic("tiny-vlm:other")
