"""The CLIP-style scorer critic, with a tiny CLIPModel built in code and loaded back from disk."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from agent.critics.clip_scorer import ClipScorer
from agent.critics.registry import make_critic
from evals.critic_eval import EvalConfig, evaluate
from evals.critic_eval.fixtures import write_fixture
from tests.tiny_models import write_tiny_tokenizer
from tools.errors import InputError, ModelLoadError


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    root = tmp_path_factory.mktemp("clip")
    write_tiny_tokenizer(root / "tokenizer-src")
    tokenizer = CLIPTokenizer.from_pretrained(root / "tokenizer-src")
    n = len(tokenizer)
    config = CLIPConfig(
        text_config=dict(vocab_size=n, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=n - 2, eos_token_id=n - 1,
                         pad_token_id=n - 1),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=8)
    torch.manual_seed(0)
    model = CLIPModel(config)
    folder = root / "tiny-clip"
    model.save_pretrained(folder)
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder


RED = Image.new("RGB", (40, 40), (220, 40, 40))
BLUE = Image.new("RGB", (40, 40), (40, 90, 220))


def reference_scores(folder, images, text):
    """exp(logit_scale) * cosine of the projected embeddings, computed from the model's parts."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder).eval()
    proc = CLIPProcessor.from_pretrained(folder)
    inputs = proc(text=[text], images=images, return_tensors="pt", padding=True)
    with torch.no_grad():
        img = model.visual_projection(model.vision_model(pixel_values=inputs["pixel_values"]).pooler_output)
        txt = model.text_projection(model.text_model(input_ids=inputs["input_ids"],
                                                     attention_mask=inputs["attention_mask"]).pooler_output)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    return (model.logit_scale.exp() * (img @ txt.T))[:, 0].tolist()


def test_scores_are_scaled_cosines(clip_dir):
    critic = make_critic(f"clip:{clip_dir}")
    assert isinstance(critic, ClipScorer) and critic.order_invariant
    ranking = critic.judge_pair(RED, BLUE, "a red circle", critic.plan("a red circle").checklist)
    assert ranking.scores == pytest.approx(reference_scores(clip_dir, [RED, BLUE], "a red circle"), abs=1e-5)
    winner = 0 if ranking.scores[0] > ranking.scores[1] else 1
    assert ranking.order == [winner, 1 - winner] and not ranking.tie


def test_presentation_order_does_not_change_scores(clip_dir):
    critic = make_critic(f"clip:{clip_dir}")
    checklist = critic.plan("a blue square").checklist
    ab = critic.judge_pair(RED, BLUE, "a blue square", checklist)
    ba = critic.judge_pair(BLUE, RED, "a blue square", checklist)
    assert ab.scores == pytest.approx(ba.scores[::-1], abs=1e-5)
    assert ab.order == ba.order[::-1]


def test_ties_by_threshold_on_the_score_difference(clip_dir):
    scores = make_critic(f"clip:{clip_dir}").judge_pair(RED, BLUE, "a red circle", []).scores
    gap = abs(scores[0] - scores[1])
    assert gap > 0
    wide = make_critic(f"clip:{clip_dir}", tie_threshold=gap * 1.01)
    assert wide.compare(RED, BLUE, "a red circle", []).tie
    narrow = make_critic(f"clip:{clip_dir}", tie_threshold=gap * 0.99)
    assert not narrow.compare(RED, BLUE, "a red circle", []).tie


def test_critique_scores_within_bounds(clip_dir):
    critic = make_critic(f"clip:{clip_dir}")
    plan = critic.plan("a red circle")
    crit = critic.critique(RED, "a red circle", plan.checklist)
    assert 0.0 <= crit.score <= 1.0 and [v.id for v in crit.verdicts] == ["prompt"]


def test_local_folders_only_and_clear_errors(clip_dir, tmp_path):
    with pytest.raises(InputError, match="is not a local folder. Download the model first"):
        make_critic(f"clip:{tmp_path / 'missing'}")
    with pytest.raises(InputError, match="has no config.json"):
        make_critic(f"clip:{tmp_path}")
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((clip_dir / name).read_bytes())
    with pytest.raises(ModelLoadError, match="no CLIP processor"):
        make_critic(f"clip:{bare}")
    with pytest.raises(InputError, match="unknown clip critic option"):
        make_critic(f"clip:{clip_dir}", temperature=1.0)


def test_clip_critic_in_an_evaluation(clip_dir, tmp_path):
    data = write_fixture("mjbench", tmp_path / "fx", prompts=8)
    result = evaluate(EvalConfig(dataset=data, format="mjbench", critics=[f"clip:{clip_dir}"],
                                 out=tmp_path / "out", show_progress=False, bootstrap=100))
    (c,) = result.metrics["critics"]
    assert c["position"]["flip_rate"]["value"] == 0.0
    three = c["accuracy"]["pickscore"]
    assert three["threshold"] is not None and three["threshold"] >= 0
    assert c["calibration"] and sum(b["n"] for b in c["calibration"]) == result.metrics["dataset"]["pairs"]
    assert (tmp_path / "out" / "plots" / "calibration.png").stat().st_size > 0
