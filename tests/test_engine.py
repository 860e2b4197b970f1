"""The engine on tiny checkpoints loaded through its own loading path."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.tiny_models import TINY_SIZE
from tools.engine import Engine
from tools.engine.images import image_hash, open_image
from tools.engine.masks import changed_outside
from tools.errors import InputError, ModelLoadError, UnsupportedTaskError


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


@pytest.fixture(scope="module")
def photo():
    """A structured RGB test image: a gradient with a block, at the tiny model's size."""
    x = np.linspace(0, 255, TINY_SIZE, dtype=np.uint8)
    arr = np.stack([*np.meshgrid(x, x[::-1]), np.full((TINY_SIZE, TINY_SIZE), 90, np.uint8)], axis=-1)
    arr[4:10, 4:10] = (250, 20, 20)
    return Image.fromarray(arr, "RGB")


# -- loading ---------------------------------------------------------------------------------------
def test_load_records_identity_device_and_dtype(tiny_engine, tiny_model_dir):
    ident = tiny_engine.identity
    assert ident.kind == "folder" and ident.source == str(tiny_model_dir)
    assert ident.revision.startswith("sha256:") and ident.pipeline == "StableDiffusionPipeline"
    assert str(tiny_engine.device) == "cpu" and str(tiny_engine.dtype) == "torch.float32"
    assert tiny_engine.native_size == (TINY_SIZE, TINY_SIZE)
    # The fingerprint is a function of the files: loading again gives the same identity.
    assert Engine.load(tiny_model_dir).identity.revision == ident.revision


def test_derived_pipelines_share_components(tiny_engine):
    base = tiny_engine.pipeline("txt2img")
    for task in ("img2img", "inpaint"):
        derived = tiny_engine.pipeline(task)
        assert derived is not base
        assert derived.unet is base.unet and derived.vae is base.vae and derived.text_encoder is base.text_encoder
        assert tiny_engine.pipeline(task) is derived  # made once, then reused


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(ModelLoadError, match="neither an existing folder"):
        Engine.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        Engine.load(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="does not exist"):
        Engine.load(tmp_path / "model.safetensors")


def test_hub_id_offline_needs_a_cached_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError, match="cached copy|local cache"):
        Engine.load("nobody/no-such-model")


def test_corrupt_single_file_is_reported(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelLoadError, match="broken.safetensors"):
        Engine.load(bad)


def test_unknown_scheduler_and_device(tiny_model_dir):
    with pytest.raises(InputError, match="unknown scheduler"):
        Engine.load(tiny_model_dir, scheduler="warp-drive")
    with pytest.raises(InputError, match="unknown device"):
        Engine.load(tiny_model_dir, device="tpu-ish")
    with pytest.raises(InputError, match="offload"):
        Engine.load(tiny_model_dir, device="cpu", cpu_offload=True)


def test_scheduler_swap_keeps_training_schedule(tiny_model_dir):
    eng = Engine.load(tiny_model_dir, scheduler="euler", steps=3)
    rec = eng.txt2img("red", seed=1)
    assert rec.params["scheduler"] == "EulerDiscreteScheduler"
    assert eng.pipeline("txt2img").scheduler.config.beta_schedule == "scaled_linear"


# -- the tools -----------------------------------------------------------------------------------
def test_txt2img_record_and_determinism(tiny_engine):
    a = tiny_engine.txt2img("red circle", negative_prompt="blue", seed=7)
    b = tiny_engine.txt2img("red circle", negative_prompt="blue", seed=7)
    c = tiny_engine.txt2img("red circle", negative_prompt="blue", seed=8)
    assert a.image.size == (TINY_SIZE, TINY_SIZE) and a.image.mode == "RGB"
    assert image_hash(a.image) == image_hash(b.image)
    assert image_hash(a.image) != image_hash(c.image)
    assert a.seeds == [7] and a.task == "txt2img"
    assert a.params["steps"] == 4 and a.params["guidance"] == 3.0 and a.params["negative_prompt"] == "blue"
    meta = a.metadata()
    json.dumps(meta)  # JSON-able, to sit next to the image
    assert meta["model"]["revision"] == tiny_engine.identity.revision and meta["dtype"] == "float32"
    assert a.wall_time > 0


def test_img2img_is_deterministic_and_strength_matters(tiny_engine, photo):
    a = tiny_engine.img2img(photo, "blue", strength=0.5, seed=3)
    b = tiny_engine.img2img(photo, "blue", strength=0.5, seed=3)
    weak = tiny_engine.img2img(photo, "blue", strength=0.25, seed=3)
    strong = tiny_engine.img2img(photo, "blue", strength=1.0, seed=3)
    assert image_hash(a.image) == image_hash(b.image)
    assert a.params["strength"] == 0.5
    # More strength moves the result further from the input.
    dist = lambda im: np.abs(pixels(im) - pixels(photo)).mean()  # noqa: E731
    assert dist(weak.image) < dist(strong.image)


@pytest.mark.parametrize("feather", [0.0, 2.0])
def test_inpaint_keeps_every_pixel_outside_the_mask(tiny_engine, photo, feather):
    rec = tiny_engine.inpaint(photo, "blue", region=(0.5, 0.5, 1.0, 1.0), seed=5, feather=feather, pad=0.0)
    soft = rec.extras["soft_mask"]
    assert changed_outside(photo, rec.image, soft) == 0.0
    inside = np.asarray(soft) == 255
    assert np.abs(pixels(rec.image) - pixels(photo))[inside].max() > 0  # something was repainted
    outside = np.asarray(soft) == 0
    assert outside.mean() > 0.3  # the test measures a real area, not an empty one
    assert rec.params["region"] == [0.5, 0.5, 1.0, 1.0]


def test_inpaint_same_seed_same_pixels_and_mask_input(tiny_engine, photo):
    a = tiny_engine.inpaint(photo, "red", region=(0.1, 0.1, 0.4, 0.6), seed=2)
    b = tiny_engine.inpaint(photo, "red", region=(0.1, 0.1, 0.4, 0.6), seed=2)
    assert image_hash(a.image) == image_hash(b.image)
    mask = Image.new("L", photo.size, 0)
    mask.paste(255, (0, 0, 8, 8))
    c = tiny_engine.inpaint(photo, "red", mask=mask, seed=2, feather=0)
    assert changed_outside(photo, c.image, mask) == 0.0 and "mask_sha256" in c.params


def test_inpainting_checkpoint_inpaints_but_cannot_txt2img(tiny_inpaint_model_dir, photo):
    eng = Engine.load(tiny_inpaint_model_dir, steps=3)
    assert eng.is_inpainting_checkpoint
    rec = eng.inpaint(photo, "red", region=(0.0, 0.0, 0.5, 0.5), seed=1, feather=1.0)
    assert changed_outside(photo, rec.image, rec.extras["soft_mask"]) == 0.0
    with pytest.raises(UnsupportedTaskError, match="inpainting checkpoint"):
        eng.txt2img("red")
    with pytest.raises(UnsupportedTaskError):
        eng.img2img(photo, "red", strength=0.5)


def test_variations_run_in_one_batched_call(tiny_engine, photo):
    unet = tiny_engine.pipeline("img2img").unet
    batches = []
    hook = unet.register_forward_hook(lambda m, args, out: batches.append(args[0].shape[0]))
    try:
        rec = tiny_engine.variations(photo, "red", n=3, strength=0.5, seeds=[10, 11, 12])
    finally:
        hook.remove()
    # int(4 steps x 0.5) = 2 denoising steps, each one UNet call on 3 images x 2 (guidance).
    assert batches == [6, 6]
    assert rec.task == "variations" and rec.seeds == [10, 11, 12] and len(rec.images) == 3
    assert len({image_hash(im) for im in rec.images}) == 3
    # Each variation is its seed's image: the same seed alone gives (numerically) the same picture.
    alone = tiny_engine.img2img(photo, "red", strength=0.5, seed=11)
    assert np.abs(pixels(alone.image) - pixels(rec.images[1])).max() <= 2


def test_variations_from_text_and_default_seeds(tiny_engine):
    rec = tiny_engine.variations(None, "blue", n=2, seed=40)
    assert rec.seeds == [40, 41] and rec.params["source"] == "txt2img" and len(rec.images) == 2


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("strength", [0, -0.1, 1.5, "0.5"])
def test_strength_outside_range(tiny_engine, photo, strength):
    with pytest.raises(InputError, match=r"strength must be in \(0, 1\]"):
        tiny_engine.img2img(photo, "red", strength=strength)


def test_strength_times_steps_below_one_step(tiny_engine, photo):
    with pytest.raises(InputError, match="runs no denoising step"):
        tiny_engine.img2img(photo, "red", strength=0.2, steps=4)
    with pytest.raises(InputError, match="runs no denoising step"):
        tiny_engine.inpaint(photo, "red", region=(0, 0, 0.5, 0.5), strength=0.1, steps=5)


@pytest.mark.parametrize("region,match", [
    ((0.5, 0.5, 1.2, 0.9), "outside the image"),
    ((-0.1, 0.0, 0.5, 0.5), "outside the image"),
    ((0.6, 0.2, 0.4, 0.8), "empty"),
    ((0.3, 0.3, 0.3, 0.5), "empty"),
    ("top left", "region must be"),
])
def test_bad_regions(tiny_engine, photo, region, match):
    with pytest.raises(InputError, match=match):
        tiny_engine.inpaint(photo, "red", region=region)


def test_mask_size_mismatch_and_empty_mask(tiny_engine, photo):
    with pytest.raises(InputError, match="same size"):
        tiny_engine.inpaint(photo, "red", mask=Image.new("L", (8, 8), 255))
    with pytest.raises(InputError, match="empty"):
        tiny_engine.inpaint(photo, "red", mask=Image.new("L", photo.size, 0))
    with pytest.raises(InputError, match="exactly one of region"):
        tiny_engine.inpaint(photo, "red")


def test_bad_counts_seeds_and_sizes(tiny_engine, photo):
    with pytest.raises(InputError, match="n must be"):
        tiny_engine.variations(photo, "red", n=0)
    with pytest.raises(InputError, match="one seed per variation"):
        tiny_engine.variations(photo, "red", n=2, seeds=[1])
    with pytest.raises(InputError, match="seed must be"):
        tiny_engine.txt2img("red", seed=-1)
    with pytest.raises(InputError, match="multiple of 2"):
        tiny_engine.txt2img("red", width=15)
    with pytest.raises(InputError, match="steps must be"):
        tiny_engine.txt2img("red", steps=0)


def test_non_rgb_and_corrupt_images(tiny_engine, photo, tmp_path):
    with pytest.raises(InputError, match="mode RGBA, not RGB"):
        tiny_engine.img2img(photo.convert("RGBA"), "red", strength=0.5)
    with pytest.raises(InputError, match="must be a PIL image"):
        tiny_engine.img2img(np.zeros((16, 16, 3)), "red", strength=0.5)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InputError, match="not a readable image"):
        open_image(bad)
    rgba = tmp_path / "alpha.png"
    photo.convert("RGBA").save(rgba)
    assert open_image(rgba, convert=True).mode == "RGB"


def test_guided_inpaint_primes_the_region_and_records_the_guide(tiny_engine, photo):
    region = (0.5, 0.5, 1.0, 1.0)
    plain = tiny_engine.inpaint(photo, "blue", region=region, seed=5, strength=0.5, pad=0.0)
    guided = tiny_engine.inpaint(photo, "blue", region=region, seed=5, strength=0.5, pad=0.0,
                                 guide={"colour": "blue", "background": "white", "size": 0.5})
    assert guided.params["guide"] == {"colour": "blue", "background": "white", "size": 0.5}
    assert "guide" not in plain.params
    soft = guided.extras["soft_mask"]
    assert changed_outside(photo, guided.image, soft) == 0.0  # the guide never leaks outside
    inside = np.asarray(soft) == 255
    assert np.abs(pixels(guided.image) - pixels(plain.image))[inside].max() > 0


@pytest.mark.parametrize("guide, match", [
    ({"colour": "blurple"}, "unknown colour 'blurple'"),
    ({"colour": "red", "size": 1.5}, "size"),
    ({}, "needs a colour, a background, or both"),
    ({"colour": [300, 0, 0]}, r"\[r, g, b\] of 0..255"),
    ("red", "is a dict or Guide"),
])
def test_bad_guides_say_what_is_expected(tiny_engine, photo, guide, match):
    with pytest.raises(InputError, match=match):
        tiny_engine.inpaint(photo, "x", region=(0.1, 0.1, 0.5, 0.5), strength=0.5, guide=guide)
