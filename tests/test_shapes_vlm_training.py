"""The shapes critic model's formats and training script at toy size: the tokenizer and chat template
give the agreed prompt, the fast training batches equal the processor's, questions are labelled by
the checker, and training runs, resumes exactly and exports a folder the Auto classes load."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from tools.shapes.brief import Brief, Group
from tools.shapes.detect import detect
from tools.shapes.render import Placement, Scene, draw
from tools.shapes.sample import random_brief
from tools.shapes.train_vlm import main as train_vlm
from tools.shapes.vlm_batch import Encoder
from tools.shapes.vlm_dense import COLOUR_INDEX, SHAPE_INDEX, patch_labels
from tools.shapes.vlm_format import (
    QUESTION,
    detect_answer,
    detect_question,
    parse_detect_answer,
    vqa_question,
)
from tools.shapes.vlm_model import TINY, build_processor, pixel_values
from tools.shapes.vlm_questions import labelled, perturb


@pytest.fixture(scope="module")
def processor():
    return build_processor(TINY)


def chat(processor, question: str) -> str:
    return processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
        add_generation_prompt=True, tokenize=False)


def test_chat_template_and_tokenizer_give_the_agreed_prompt_and_answers(processor):
    tok = processor.tokenizer
    question = vqa_question("the red circle is left of the blue square")
    assert question == 'Does this figure show "the red circle is left of the blue square"? Please answer Yes or No.'
    assert chat(processor, question) == "<image>" + question
    image = Image.new("RGB", (64, 64), "white")
    ids = processor(images=[image], text=[chat(processor, question)], return_tensors="pt")["input_ids"][0]
    assert tok.decode(ids) == "<image>" * TINY.image_tokens + "<bos>" + question + "\n"
    # The answer the critic reads is one token, distinct from the "Yes" inside the question.
    assert tok("Yes", add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids("Yes")]
    assert tok.convert_tokens_to_ids("Yes") not in ids.tolist()
    assert tok.unk_token_id != tok.convert_tokens_to_ids("No")
    with pytest.raises(Exception, match="one user turn"):
        processor.apply_chat_template([{"role": "system", "content": "be brief"}], tokenize=False)

    boxes = [(0.1, 0.2, 0.35, 0.5), (0.6, 0.05, 0.9, 0.3)]
    answer = detect_answer("red circle", boxes)
    assert answer.startswith("<loc0205><loc0102><loc0512><loc0358> red circle ; <loc")
    enc = tok(answer, add_special_tokens=False)["input_ids"]
    assert tok.decode(enc) == answer and tok.unk_token_id not in enc
    parsed = parse_detect_answer(tok.decode(enc))
    assert [lab for _, lab in parsed] == ["red circle", "red circle"]
    assert np.allclose([b for b, _ in parsed], boxes, atol=1 / 1023)
    assert detect_answer("red circle", []) == "none"

    # Every requirement text the grammar writes, hard negatives included, is made of known tokens.
    rng = np.random.default_rng(0)
    for _ in range(200):
        brief = random_brief(rng, int(rng.integers(1, 4)))
        changed = perturb(brief, detect(Image.new("RGB", (64, 64), "white")), rng)[1]
        for req in brief.requirements() + changed.requirements():
            assert tok.unk_token_id not in tok(QUESTION.format(text=req.text))["input_ids"], req.text


def test_training_batches_equal_the_processors(processor):
    rng = np.random.default_rng(1)
    images = (rng.random((2, 64, 64, 3)) * 255).astype(np.uint8)
    questions = [vqa_question("exactly two green triangles"), detect_question("small red circle")]
    ref = processor(images=[Image.fromarray(im) for im in images], text=[chat(processor, q) for q in questions],
                    return_tensors="pt", padding=True)
    mine = Encoder(processor.tokenizer, TINY.image_tokens).batch([(0, questions[0], None), (1, questions[1], None)])
    assert torch.equal(ref["input_ids"], mine.input_ids)
    assert torch.equal(ref["attention_mask"], mine.attention_mask)
    assert torch.equal(ref["token_type_ids"], mine.token_type_ids)
    assert torch.allclose(ref["pixel_values"], pixel_values(images))
    with_answers = Encoder(processor.tokenizer, TINY.image_tokens).batch([(0, questions[0], "Yes")])
    # Only the answer and its <eos> are targets, each predicted from the position before it.
    targets = with_answers.targets[0][with_answers.targets[0] != -100].tolist()
    assert targets == [processor.tokenizer.convert_tokens_to_ids("Yes"), processor.tokenizer.eos_token_id]


def test_questions_are_labelled_by_the_checker_not_by_their_origin():
    # A red circle and an orange circle: "a near colour" of the red one is there after all.
    scene = Scene("white", (Placement(0, "red", "circle", "large", 0.3, 0.25, 0.5),
                            Placement(1, "orange", "circle", "large", 0.3, 0.75, 0.5)))
    det = detect(draw(scene))
    brief = Brief(groups=[Group(shape="circle", colour="red")], links=[])
    near = brief.model_copy(update={"groups": [Group(shape="circle", colour="orange")]})
    assert [(q.text, q.answer) for q in labelled(near, det, "near colour")] == [("an orange circle", "Yes")]
    far = brief.model_copy(update={"groups": [Group(shape="circle", colour="green")]})
    assert [(q.text, q.answer) for q in labelled(far, det, "other colour")] == [("a green circle", "No")]


def test_patch_labels_name_the_colour_and_shape_under_each_patch():
    # A red circle on the left half, a blue square at the bottom right; the rest is background.
    scene = Scene("white", (Placement(0, "red", "circle", "large", 0.4, 0.25, 0.5),
                            Placement(1, "blue", "square", "small", 0.2, 0.8, 0.8)))
    labels = patch_labels(detect(draw(scene)), 8).reshape(2, 8, 8)
    colour, shape = labels
    red, blue = COLOUR_INDEX["red"], COLOUR_INDEX["blue"]
    assert colour[4, 2] == red and shape[4, 2] == SHAPE_INDEX["circle"]  # row 4, column 2: the circle's centre
    assert colour[6, 6] == blue and shape[6, 6] == SHAPE_INDEX["square"]
    assert colour[0, 7] == 0 and shape[0, 7] == 0  # top right: nothing there
    assert set(np.unique(colour)) == {0, red, blue}
    # The circle covers more patches than the small square, and neither reaches the other's side.
    assert (colour == red).sum() > (colour == blue).sum() > 0
    assert not (colour[:, :4] == blue).any() and not (colour[:, 5:] == red).any()


TOY = ["--config", "tiny", "--threads", "1", "--model-shards", "1", "--render-shards", "1", "--heldout-shards", "1",
       "--shard-images", "2", "--batch-images", "2", "--questions", "3", "--detects", "1", "--eval-every", "3",
       "--log-every", "3", "--ckpt-every", "3", "--warmup", "2"]


def test_toy_training_resumes_exactly_and_exports_a_loadable_model(tmp_path, capsys):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    work, out = tmp_path / "work", tmp_path / "out"
    train_vlm(["--work", str(work), "--out", str(out), "--steps", "3", *TOY])
    shutil.copytree(work / "data", tmp_path / "straight" / "data")
    train_vlm(["--work", str(work), "--out", str(out), "--steps", "6", *TOY])  # the same run, longer
    log = capsys.readouterr().out
    assert "train: resumed at step 3" in log and "held-out step 6: yes/no accuracy" in log
    assert sorted(p.name for p in work.glob("ema_step_*.pt")) == ["ema_step_000003.pt", "ema_step_000006.pt"]
    stats = json.loads((work / "data" / "data.json").read_text())
    assert {(s["split"], s["kind"]) for s in stats} == {("heldout", "model"), ("train", "model"), ("train", "render")}

    # Killed after 3 steps and resumed, or run straight through: the same weights.
    train_vlm(["--work", str(tmp_path / "straight"), "--out", str(tmp_path / "o2"), "--steps", "6", *TOY,
               "--stage", "train"])
    resumed = torch.load(work / "ckpt.pt", weights_only=False)["model"]
    straight = torch.load(tmp_path / "straight" / "ckpt.pt", weights_only=False)["model"]
    assert all(torch.equal(resumed[k], straight[k]) for k in resumed)
    assert "head" in torch.load(work / "ckpt.pt", weights_only=False)  # the patch-label head resumes too

    assert json.loads((out / "training.json").read_text())["steps"] == 6

    # A second training may start from the first one's EMA weights; the export says where it started.
    again = tmp_path / "again"
    snapshot = work / "ema_step_000006.pt"
    train_vlm(["--work", str(again), "--data", str(work / "data"), "--out", str(tmp_path / "o3"), "--steps", "3", *TOY,
               "--init-from", str(snapshot), "--stage", "train"])
    assert f"starting from the EMA weights of {snapshot} (step 6)" in capsys.readouterr().out
    train_vlm(["--work", str(again), "--out", str(tmp_path / "o3"), "--from-step", "3", *TOY, "--stage", "export"])
    assert json.loads((tmp_path / "o3" / "training.json").read_text())["recipe"]["init_from"] == str(snapshot)
    processor = AutoProcessor.from_pretrained(out, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    assert type(model).__name__ == "PaliGemmaForConditionalGeneration" and model.dtype == torch.float32
    batch = processor(images=[Image.new("RGB", (64, 64), "white")],
                      text=[chat(processor, vqa_question("a red circle"))], return_tensors="pt")
    with torch.no_grad():
        probs = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0, -1].softmax(-1)
    assert abs(float(probs.sum()) - 1) < 1e-4


def test_the_coin_fitted_to_a_critic_errs_as_often_and_the_same_way():
    from evals.shapes_vlm_metrics import fitted_noise

    # 20 verdicts: 3 false passes and 1 false failure.
    rows = ([{"truth": True, "p": 0.9}] * 9 + [{"truth": True, "p": 0.2}]
            + [{"truth": False, "p": 0.1}] * 7 + [{"truth": False, "p": 0.8}] * 3)
    fit = fitted_noise(rows)
    assert fit["rate"] == pytest.approx(4 / 20) and fit["yes"] == pytest.approx(3 / 4)
    assert fit["spec"] == "noisy:0.200,yes=0.75"
    assert fitted_noise([{"truth": True, "p": 0.9}])["spec"] == "noisy:0"
