"""The shipped shapes critic model: it loads through the Auto classes from its folder, offline, asks
all of an image's questions in one batched pass and answers in the agreed formats.

It boxes the objects of a fixed rendered scene and says "none" for an absent one. Whether it answers
every question about fixed rendered scenes correctly — questions whose answers a critic must know —
is asserted too, and expected to fail: the shipped weights still miss 3 of those 27 (a relation's
side, a small triangle's shape, a count; tools/shapes/VLM_MODEL_CARD.md). The marks are strict, so
a better model that passes them fails the suite until the marks are taken off."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tools.shapes.render import Placement, Scene, draw
from tools.shapes.vlm_format import detect_question, parse_detect_answer, vqa_question

WEIGHTS = Path(__file__).resolve().parent.parent / "tools" / "shapes" / "vlm_weights"

# (scene, requirement texts that hold, texts that do not): large, well separated objects, far from
# every threshold of the checker (cell borders, the relation margin, the size threshold).
SCENES = [
    (Scene("white", (Placement(0, "red", "circle", "large", 0.30, 0.20, 0.22),
                     Placement(1, "blue", "square", "large", 0.30, 0.78, 0.78))),
     ["a red circle", "a blue square", "white background", "the red circle is left of the blue square",
      "the red circle is above the blue square", "the blue square is large", "the red circle is at top left"],
     ["a green triangle", "black background", "the red circle is right of the blue square",
      "the blue square is small", "exactly two red circles", "the blue square is at top left"]),
    (Scene("black", (Placement(0, "yellow", "triangle", "small", 0.16, 0.5, 0.5),)),
     ["a yellow triangle", "black background", "the yellow triangle is small", "the yellow triangle is at center"],
     ["a yellow circle", "a purple triangle", "white background", "the yellow triangle is large",
      "the yellow triangle is at bottom right"]),
    (Scene("green", (Placement(0, "white", "diamond", "large", 0.30, 0.78, 0.5),
                     Placement(1, "white", "diamond", "large", 0.30, 0.22, 0.5))),
     ["exactly two white diamonds", "green background"],
     ["exactly three white diamonds", "a red diamond", "blue background"]),
]


@pytest.fixture(scope="module")
def critic():
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(WEIGHTS, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(WEIGHTS, local_files_only=True).eval()
    return processor, model


def ask(processor, model, image, questions: list[str]):
    texts = [processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}],
        add_generation_prompt=True, tokenize=False) for q in questions]
    return processor(images=[image] * len(texts), text=texts, return_tensors="pt", padding=True)


@torch.no_grad()
def p_yes(processor, model, image, texts: list[str]) -> list[float]:
    batch = ask(processor, model, image, [vqa_question(t) for t in texts])
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, -1]
    return logits.softmax(-1)[:, processor.tokenizer.convert_tokens_to_ids("Yes")].tolist()


def test_the_shipped_folder_is_a_small_paligemma(critic):
    processor, model = critic
    assert type(model).__name__ == "PaliGemmaForConditionalGeneration"
    assert type(processor).__name__ == "PaliGemmaProcessor"
    assert sum(p.numel() for p in model.parameters()) < 6_000_000
    assert sum(f.stat().st_size for f in WEIGHTS.glob("*.safetensors")) <= 10 * 2**20


UNDERTRAINED = pytest.mark.xfail(strict=True, reason="the shipped weights (82.7% per verdict) still take a right "
                                                     "for a left, a small triangle for a circle and two for another "
                                                     "count on these scenes (VLM_MODEL_CARD.md, Limits)")


@pytest.mark.parametrize("scene,true,false", SCENES, ids=["two objects", "one small", "a count"])
def test_one_batched_pass_answers_as_one_question_at_a_time_and_sees_the_background(critic, scene, true, false):
    processor, model = critic
    probs = p_yes(processor, model, draw(scene), true + false)
    alone = [p_yes(processor, model, draw(scene), [t])[0] for t in (true[0], false[0])]
    assert alone == pytest.approx([probs[0], probs[len(true)]], abs=1e-4)
    background = f"{scene.background} background"
    assert p_yes(processor, model, draw(scene), [background])[0] > 0.9


@UNDERTRAINED
@pytest.mark.parametrize("scene,true,false", SCENES, ids=["two objects", "one small", "a count"])
def test_it_answers_fixed_scenes_it_must_know(critic, scene, true, false):
    processor, model = critic
    probs = p_yes(processor, model, draw(scene), true + false)
    verdicts = {t: round(p, 3) for t, p in zip(true + false, probs)}
    assert all(verdicts[t] > 0.5 for t in true), verdicts
    assert all(verdicts[t] < 0.5 for t in false), verdicts


def locate(processor, model, batch):
    """Generation as the localiser decodes it (agent/vlm/loc_tokens.py)."""
    from agent.vlm.loc_tokens import location_decoding

    return model.generate(**{k: v for k, v in batch.items() if k != "labels"}, max_new_tokens=32, do_sample=False,
                          logits_processor=location_decoding(processor.tokenizer, batch["input_ids"].shape[1]))


@torch.no_grad()
def test_its_localisation_answers_are_in_the_agreed_format(critic):
    processor, model = critic
    batch = ask(processor, model, draw(SCENES[0][0]), [detect_question("red circle"), detect_question("green triangle")])
    out = locate(processor, model, batch)
    for answer in processor.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True):
        assert answer.strip() == "none" or parse_detect_answer(answer), answer


@torch.no_grad()
def test_it_boxes_objects_and_answers_none_for_absent_ones(critic):
    processor, model = critic
    scene = SCENES[0][0]
    batch = ask(processor, model, draw(scene), [detect_question("red circle"), detect_question("blue square"),
                                                 detect_question("green triangle")])
    out = locate(processor, model, batch)
    answers = processor.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert answers[2].strip() == "none"
    for answer, obj, label in zip(answers, scene.objects, ("red circle", "blue square")):
        (box, said), = parse_detect_answer(answer)
        assert said == label
        truth = obj.box
        ix = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
        iy = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
        union = (box[2] - box[0]) * (box[3] - box[1]) + obj.side ** 2 - ix * iy
        assert ix * iy / union >= 0.5, (answer, truth)
