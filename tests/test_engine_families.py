"""Every diffusers family in every tool: tiny random-weight checkpoints of SD 1.x, SD 2.x (v-prediction),
SDXL, SD3 and Flux (schnell-like and dev-like), and SD/SDXL inpainting checkpoints, built in code,
saved with save_pretrained and loaded through Engine.load like a real download."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from tests.tiny_models import FAMILY_PIPELINES
from tools.engine import Engine
from tools.engine.families import CFG, EMBEDDED, NO_GUIDANCE
from tools.engine.images import image_hash
from tools.engine.masks import changed_outside
from tools.errors import InputError, ToolError, UnsupportedTaskError

TEXT_FAMILIES = ["sd1", "sd2-v", "sdxl", "sd3", "flux-schnell", "flux-dev"]
INPAINT_CHECKPOINTS = ["sd1-inpaint", "sdxl-inpaint"]
# (native size, size multiple, guidance kind) as each pipeline itself defines them for these configs.
EXPECTED = {
    "sd1": ((16, 16), 8, CFG), "sd2-v": ((32, 32), 8, CFG), "sdxl": ((32, 32), 8, CFG), "sd3": ((32, 32), 4, CFG),
    "flux-schnell": ((256, 256), 4, NO_GUIDANCE), "flux-dev": ((256, 256), 4, EMBEDDED),
    "sd1-inpaint": ((16, 16), 8, CFG), "sdxl-inpaint": ((32, 32), 8, CFG),
}
SIZE = (48, 32)  # not square and not native: a multiple of every family's multiple
ODD = (31, 23)  # a multiple of none: denoised at a rounded size, returned at this one


@pytest.fixture(scope="module")
def engine(tiny_family_dir):
    """family name -> an Engine on its tiny checkpoint (3 steps, the family's default guidance)."""
    engines: dict[str, Engine] = {}

    def get(family: str) -> Engine:
        if family not in engines:
            engines[family] = Engine.load(tiny_family_dir(family), steps=3)
        return engines[family]

    return get


def photo(size=SIZE) -> Image.Image:
    w, h = size
    x, y = np.meshgrid(np.linspace(0, 255, w), np.linspace(255, 0, h))
    arr = np.stack([x, y, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    arr[h // 4:h // 2, w // 4:w // 2] = (250, 20, 20)
    return Image.fromarray(arr, "RGB")


def diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())


# -- loading -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", TEXT_FAMILIES + INPAINT_CHECKPOINTS)
def test_each_family_loads_with_its_pipeline_size_and_guidance(engine, family):
    eng = engine(family)
    native, multiple, guidance = EXPECTED[family]
    assert eng.identity.pipeline == FAMILY_PIPELINES[family]
    assert eng.native_size == native and eng.family.multiple == multiple and eng.family.guidance == guidance
    assert eng.is_inpainting_checkpoint == family.endswith("-inpaint")


def test_family_quirks_survive_loading(engine):
    assert engine("sd2-v").pipeline("txt2img").scheduler.config.prediction_type == "v_prediction"
    assert engine("sd2-v").pipeline("img2img").scheduler.config.prediction_type == "v_prediction"
    swapped = Engine.load(engine("sd2-v").identity.source, scheduler="euler", steps=2)
    assert swapped.pipeline("txt2img").scheduler.config.prediction_type == "v_prediction"
    # With steps and guidance unset (here and in sculpt.json), Flux runs its own defaults.
    schnell = Engine.load(engine("flux-schnell").identity.source)
    assert (schnell.default_steps, schnell.default_guidance) == (4, 0.0)
    assert engine("flux-dev").default_guidance == 3.5


def test_t5_tokenizer_made_in_code_loads_back_offline(tiny_family_dir, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(tiny_family_dir("flux-dev") / "tokenizer_2")
    assert type(tok).__name__ in ("T5Tokenizer", "T5TokenizerFast")
    ids = tok("a red circle", padding="max_length", max_length=8).input_ids
    assert ids[:3] == tok.convert_tokens_to_ids(["▁a", "▁red", "▁circle"])
    assert ids[3] == tok.eos_token_id and ids[4:] == [tok.pad_token_id] * 4


# -- the four tools, per family -------------------------------------------------------------------------
@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_txt2img_native_and_requested_sizes_and_seeds(engine, family):
    eng = engine(family)
    assert eng.txt2img("red circle", seed=1, steps=1).image.size == eng.native_size
    a = eng.txt2img("red circle", seed=1, width=SIZE[0], height=SIZE[1])
    b = eng.txt2img("red circle", seed=1, width=SIZE[0], height=SIZE[1])
    c = eng.txt2img("red circle", seed=2, width=SIZE[0], height=SIZE[1])
    assert a.image.size == SIZE and image_hash(a.image) == image_hash(b.image) != image_hash(c.image)
    with pytest.raises(InputError, match=f"multiple of {eng.family.multiple}"):
        eng.txt2img("red", width=SIZE[0] + 1)


@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_img2img_output_has_the_input_size(engine, family):
    eng = engine(family)
    for size in (SIZE, SIZE[::-1], eng.native_size if eng.native_size[0] <= 64 else (64, 64)):
        assert eng.img2img(photo(size), "blue", strength=0.7, seed=3).image.size == size
    odd = eng.img2img(photo(ODD), "blue", strength=0.7, seed=3)
    assert odd.image.size == ODD and odd.params["work_size"] == list(eng.family.work_size(ODD))
    again = eng.img2img(photo(ODD), "blue", strength=0.7, seed=3)
    assert image_hash(odd.image) == image_hash(again.image)


@pytest.mark.parametrize("family", TEXT_FAMILIES + INPAINT_CHECKPOINTS)
@pytest.mark.parametrize("size", [SIZE, ODD])
def test_inpaint_keeps_every_pixel_outside_the_mask(engine, family, size):
    eng = engine(family)
    img = photo(size)
    rec = eng.inpaint(img, "blue", region=(0.25, 0.25, 0.75, 0.75), seed=5, pad=0.0, feather=1.0)
    soft = np.asarray(rec.extras["soft_mask"])
    assert rec.image.size == size and changed_outside(img, rec.image, rec.extras["soft_mask"]) == 0.0
    assert (soft == 0).mean() > 0.3  # a real area outside
    assert diff(rec.image.crop((size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2)),
                img.crop((size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))) > 0  # repainted inside
    if family.endswith("-inpaint"):
        assert eng.pipeline("inpaint").unet.config.in_channels == 9  # the checkpoint's own inpainting UNet


@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_variations_from_an_image_one_batch_one_seed_each(engine, family):
    eng = engine(family)
    denoiser = getattr(eng.pipeline("img2img"), "transformer", None) or eng.pipeline("img2img").unet
    batches = []
    hook = denoiser.register_forward_hook(lambda m, args, kwargs, out: batches.append(
        (args[0] if args else kwargs.get("hidden_states", kwargs.get("sample"))).shape[0]), with_kwargs=True)
    try:
        rec = eng.variations(photo(), "red", n=3, strength=0.7, seeds=[10, 11, 12])
    finally:
        hook.remove()
    per_step = 3 * (2 if eng.family.guidance == CFG else 1)  # CFG doubles the batch
    # SD pipelines run int(3 x 0.7) = 2 steps, flow-matching ones (SD3, Flux) round the other way and run 3.
    steps = {"sd1": 2, "sd2-v": 2, "sdxl": 2, "sd3": 3, "flux-schnell": 3, "flux-dev": 3}[family]
    assert batches == [per_step] * steps
    assert rec.seeds == [10, 11, 12] and [im.size for im in rec.images] == [SIZE] * 3
    assert len({image_hash(im) for im in rec.images}) == 3
    # The same seed alone gives the same picture (up to batched float rounding).
    assert diff(eng.img2img(photo(), "red", strength=0.7, seed=11).image, rec.images[1]) <= 2


@pytest.mark.parametrize("family", TEXT_FAMILIES)
def test_variations_from_text(engine, family):
    eng = engine(family)
    rec = eng.variations(None, "blue", n=2, seed=40, width=SIZE[0], height=SIZE[1])
    assert rec.seeds == [40, 41] and rec.params["source"] == "txt2img"
    assert [im.size for im in rec.images] == [SIZE] * 2 and image_hash(rec.images[0]) != image_hash(rec.images[1])
    assert diff(eng.txt2img("blue", seed=41, width=SIZE[0], height=SIZE[1]).image, rec.images[1]) <= 2


@pytest.mark.parametrize("family", INPAINT_CHECKPOINTS)
def test_inpainting_checkpoints_refuse_the_other_tools(engine, family):
    eng = engine(family)
    with pytest.raises(UnsupportedTaskError, match="inpainting checkpoint"):
        eng.txt2img("red")
    with pytest.raises(UnsupportedTaskError):
        eng.variations(photo(), "red", n=2, strength=0.35)


# -- guidance and negative prompts ----------------------------------------------------------------------
@pytest.mark.parametrize("family", ["flux-schnell", "flux-dev"])
def test_flux_negative_prompt_is_reported_once_not_dropped_silently(engine, family, caplog):
    eng = engine(family)
    eng._warned.clear()  # the module's engines are shared; count this test's warnings from zero
    with caplog.at_level(logging.WARNING, logger="tools.engine.engine"):
        a = eng.txt2img("red", negative_prompt="blue", seed=4, width=32, height=32)
        b = eng.img2img(photo(), "red", negative_prompt="blue", strength=0.7, seed=4)
        c = eng.variations(None, "red", n=2, negative_prompt="blue", width=32, height=32)
    plain = eng.txt2img("red", seed=4, width=32, height=32)
    assert a.params["ignored"]["negative_prompt"].startswith("FluxPipeline takes no negative prompt")
    assert b.params["ignored"]["negative_prompt"].startswith("FluxImg2ImgPipeline takes no negative prompt")
    for rec in (a, b, c):
        assert "takes no negative prompt" in rec.params["ignored"]["negative_prompt"]
        assert rec.params["negative_prompt"] == "blue"  # what was asked, next to why it was not used
    assert "ignored" not in plain.params and image_hash(a.image) == image_hash(plain.image)
    warnings = [r for r in caplog.records if "negative_prompt" in r.getMessage()]
    assert len(warnings) == 1


def test_cfg_families_use_the_negative_prompt(engine):
    for family in ("sd2-v", "sdxl", "sd3"):
        eng = engine(family)
        a = eng.txt2img("red", negative_prompt="blue", seed=4, width=32, height=32)
        b = eng.txt2img("red", seed=4, width=32, height=32)
        assert "ignored" not in a.params and image_hash(a.image) != image_hash(b.image)
        off = eng.txt2img("red", negative_prompt="blue", seed=4, width=32, height=32, guidance=1.0)
        assert "turns classifier-free guidance off" in off.params["ignored"]["negative_prompt"]


def test_flux_guidance_is_embedded_for_dev_and_absent_for_schnell(engine):
    dev, schnell = engine("flux-dev"), engine("flux-schnell")
    kw = {"seed": 6, "width": 32, "height": 32}
    assert image_hash(dev.txt2img("red", guidance=1.5, **kw).image) != \
        image_hash(dev.txt2img("red", guidance=6.0, **kw).image)
    ignored = schnell.txt2img("red", guidance=6.0, **kw)
    assert "has no guidance" in ignored.params["ignored"]["guidance"]
    assert image_hash(ignored.image) == image_hash(schnell.txt2img("red", **kw).image)


# -- no tracebacks for people ------------------------------------------------------------------------------
@pytest.mark.parametrize("family,tool", [("flux-dev", "img2img"), ("sd3", "variations"), ("sdxl", "inpaint"),
                                         ("sd1", "txt2img")])
def test_a_pipeline_failure_becomes_a_tool_error(engine, family, tool, monkeypatch):
    eng = engine(family)
    task = {"variations": "img2img"}.get(tool, tool)
    pipe_cls = type(eng.pipeline(task))

    def explode(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.\nTried to allocate 2.00 GiB")

    monkeypatch.setattr(pipe_cls, "__call__", explode)
    call = {"txt2img": lambda: eng.txt2img("red"),
            "img2img": lambda: eng.img2img(photo(), "red", strength=0.7),
            "inpaint": lambda: eng.inpaint(photo(), "red", region=(0, 0, 0.5, 0.5)),
            "variations": lambda: eng.variations(photo(), "red", n=2, strength=0.35)}[tool]
    with pytest.raises(ToolError) as info:
        call()
    msg = str(info.value)
    assert msg == (f"{tool} failed in {pipe_cls.__name__}: OutOfMemoryError: CUDA out of memory. "
                   "Tried to allocate 2.00 GiB")
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)
    assert info.value.tool == tool and info.value.pipeline == pipe_cls.__name__


def test_an_error_diffusers_raises_itself_becomes_a_tool_error(engine):
    # The tiny SD3 transformer's position embedding covers 32x32 patches; diffusers refuses larger sizes.
    expected = r"^txt2img failed in StableDiffusion3Pipeline: ValueError: .*pos_embed_max_size"
    with pytest.raises(ToolError, match=expected):
        engine("sd3").txt2img("red", width=160, height=160, steps=1)


def test_sculpt_errors_pass_through_unchanged(engine):
    with pytest.raises(InputError, match="seed must be") as info:
        engine("flux-dev").img2img(photo(), "red", strength=0.5, seed=-1)
    assert type(info.value) is InputError
    with pytest.raises(UnsupportedTaskError):
        engine("sdxl-inpaint").img2img(photo(), "red", strength=0.5)
