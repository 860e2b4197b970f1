"""The engine against plain diffusers on SD 1.5 and SDXL architectures with random weights.

    python -m evals.engine_gpu [--size tiny|full] [--device cuda|cpu] [--dtype float16|bfloat16|float32]
                               [--steps N] [--repeats N] [--families sd15,sdxl] [--out FILE]

Nothing is downloaded: the UNet, VAE and text-encoder configs of runwayml SD 1.5 and SDXL base 1.0
are written below, the weights are random and the tokenizer is a tiny one made in code (padded to
77 tokens), which changes nothing about the cost. Each checkpoint is saved and loaded through
Engine.load like a real one. Measured (medians after a warm-up):

- txt2img images/second, engine vs the plain diffusers pipeline (same steps, size, dtype); target >= 0.95
- four variations in one batched call vs four single calls (from text and from an image); target <= 0.6
- txt2img -> img2img -> inpaint on one engine: allocated memory stays flat, a derived pipeline's
  first call costs no load time (first call vs the next)
- CPU offload through Engine.load(cpu_offload=True): one image, lower peak memory (CUDA only)

``--size tiny --device cpu`` proves the script in about a minute; its figures are not the targets.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import string
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PROMPT = "a red circle to the left of a blue square"
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              hidden_act="quick_gelu", projection_dim=768)
CLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                 hidden_act="gelu", projection_dim=1280)
VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, norm_num_groups=32,
           down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
SD15_UNET = dict(sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
                 attention_head_dim=8, cross_attention_dim=768,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SDXL_UNET = dict(sample_size=128, block_out_channels=(320, 640, 1280), layers_per_block=2,
                 attention_head_dim=(5, 10, 20), cross_attention_dim=2048, transformer_layers_per_block=(1, 2, 10),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), use_linear_projection=True,
                 addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)  # 6 time ids x 256 + bigG's 1280 pooled
# --size tiny: the same structure, narrow and shallow (block widths, layers, sample sizes).
TINY = {"clip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2),
        "clip2": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      projection_dim=32),
        "vae": dict(block_out_channels=(16, 32, 32, 32), norm_num_groups=8, layers_per_block=1),
        "sd15": dict(sample_size=8, block_out_channels=(32, 32, 64, 64), layers_per_block=1, norm_num_groups=8,
                     attention_head_dim=4, cross_attention_dim=32),
        "sdxl": dict(sample_size=16, block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=8,
                     attention_head_dim=(2, 4, 4), cross_attention_dim=64, transformer_layers_per_block=(1, 1, 2),
                     addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 32)}


def clip_tokenizer(folder: Path):
    """Every letter and digit as a CLIP BPE vocabulary; 77 tokens like the real one."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + ",.")
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    return CLIPTokenizer.from_pretrained(folder)


def text_encoder(tok, spec: dict, with_projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    n = len(tok)
    config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=n - 2, eos_token_id=n - 1,
                            pad_token_id=n - 1, **spec)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def build(family: str, size: str, folder: Path, device: torch.device, dtype: torch.dtype) -> Path:
    """A random-weight checkpoint of the published architecture, saved like a real one."""
    import diffusers as d

    tiny = size == "tiny"
    tok = clip_tokenizer(folder.parent / f"{family}-tokenizer")
    torch.manual_seed(0)
    with torch.device(device):  # random init on the GPU: seconds instead of minutes for SDXL
        vae = d.AutoencoderKL(**{**VAE, **(TINY["vae"] if tiny else {})},
                              **({"scaling_factor": 0.13025} if family == "sdxl" else {}))
        te = text_encoder(tok, {**CLIP_L, **(TINY["clip"] if tiny else {})}, with_projection=False)
        if family == "sd15":
            unet = d.UNet2DConditionModel(**{**SD15_UNET, **(TINY["sd15"] if tiny else {})})
            sched = d.PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    skip_prk_steps=True, steps_offset=1)
            pipe = d.StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=sched,
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        else:
            te2 = text_encoder(tok, {**CLIP_BIGG, **(TINY["clip2"] if tiny else {})}, with_projection=True)
            unet = d.UNet2DConditionModel(**{**SDXL_UNET, **(TINY["sdxl"] if tiny else {})})
            sched = d.EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                             steps_offset=1, timestep_spacing="leading")
            pipe = d.StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tok,
                                               tokenizer_2=tok, unet=unet, scheduler=sched)
    pipe.to(dtype=dtype).save_pretrained(folder, safe_serialization=True)
    return folder


# -- measuring --------------------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def memory(device) -> dict:
    if device.type != "cuda":
        return {"allocated_mib": None, "peak_mib": None}
    mib = 1 << 20
    return {"allocated_mib": round(torch.cuda.memory_allocated(device) / mib, 1),
            "peak_mib": round(torch.cuda.max_memory_allocated(device) / mib, 1)}


def reset_peak(device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def free(device) -> None:
    gc.collect()
    torch.cuda.empty_cache()  # a no-op where CUDA was never initialised


def switching(engine, image, device) -> dict:
    """txt2img -> img2img -> inpaint on one engine: memory and the first call of each derived pipeline."""
    out = {"after_load": memory(device)}
    for tool, call in (("txt2img", lambda s: engine.txt2img(PROMPT, seed=s)),
                       ("img2img", lambda s: engine.img2img(image, PROMPT, strength=0.6, seed=s)),
                       ("inpaint", lambda s: engine.inpaint(image, PROMPT, region=(0.2, 0.2, 0.7, 0.7),
                                                            strength=0.8, seed=s))):
        reset_peak(device)
        derive = timed(lambda: engine.pipeline(tool), device)  # from_pipe: shared components, no loading
        first = timed(lambda: call(1), device)
        second = timed(lambda: call(2), device)
        out[tool] = {"derive_s": round(derive, 4), "first_s": round(first, 3), "second_s": round(second, 3),
                     "extra_first_call_s": round(first - second, 3), **memory(device)}
    a0, a1 = out["after_load"]["allocated_mib"], out["inpaint"]["allocated_mib"]
    out["allocated_growth_mib"] = None if a0 is None else round(a1 - a0, 1)
    return out


def speed(engine, plain, image, device, steps: int, repeats: int) -> dict:
    w, h = engine.native_size

    def plain_call(s):
        with torch.inference_mode():
            plain(prompt=PROMPT, num_inference_steps=steps, guidance_scale=engine.default_guidance, width=w,
                  height=h, generator=torch.Generator(device).manual_seed(s))

    calls = {
        "engine_txt2img": lambda s: engine.txt2img(PROMPT, seed=s),
        "plain_txt2img": plain_call,
        "batched4_txt": lambda s: engine.variations(None, PROMPT, n=4, seed=s),
        "single4_txt": lambda s: [engine.txt2img(PROMPT, seed=s + i) for i in range(4)],
        "batched4_img": lambda s: engine.variations(image, PROMPT, n=4, strength=0.5, seed=s),
        "single4_img": lambda s: [engine.img2img(image, PROMPT, strength=0.5, seed=s + i) for i in range(4)],
    }
    for call in calls.values():
        call(0)  # warm-up: kernels, allocator, lazily derived pipelines
    times: dict[str, list[float]] = {k: [] for k in calls}
    for r in range(1, repeats + 1):  # interleaved, so drift (clocks, heat) hits both sides alike
        for k, call in calls.items():
            times[k].append(timed(lambda: call(10 * r), device))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds": {k: round(v, 4) for k, v in med.items()},
            "engine_images_per_s": round(1 / med["engine_txt2img"], 3),
            "plain_images_per_s": round(1 / med["plain_txt2img"], 3),
            "engine_vs_plain": round(med["plain_txt2img"] / med["engine_txt2img"], 3),
            "batched_vs_single_txt": round(med["batched4_txt"] / med["single4_txt"], 3),
            "batched_vs_single_img": round(med["batched4_img"] / med["single4_img"], 3)}


def offload(folder, device, dtype, steps, normal_peak) -> dict:
    from tools.engine import Engine

    if device.type != "cuda":
        return {"skipped": "CPU offload needs a CUDA device"}
    free(device)
    reset_peak(device)
    engine = Engine.load(folder, device=str(device), dtype=dtype, cpu_offload=True, steps=steps)
    seconds = timed(lambda: engine.txt2img(PROMPT, seed=1), device)
    peak = memory(device)["peak_mib"]
    engine = None  # release its modules before the next family is built
    free(device)
    return {"seconds": round(seconds, 3), "peak_mib": peak, "peak_without_offload_mib": normal_peak,
            "peak_ratio": round(peak / normal_peak, 3) if normal_peak else None}


def run_family(family, args, device, dtype, work: Path) -> dict:
    from diffusers import AutoPipelineForText2Image

    from tools.engine import Engine

    t0 = time.perf_counter()
    folder = build(family, args.size, work / family, device, dtype)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = Engine.load(folder, device=str(device), dtype=dtype, steps=args.steps)
    loaded = time.perf_counter() - t0
    w, h = engine.native_size
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "RGB")
    result = {"native_size": [w, h], "build_s": round(built, 2), "load_s": round(loaded, 2),
              "switching": switching(engine, image, device)}
    plain = AutoPipelineForText2Image.from_pretrained(folder, dtype=dtype).to(device)
    plain.set_progress_bar_config(disable=True)
    result["speed"] = speed(engine, plain, image, device, args.steps, args.repeats)
    normal_peak = result["switching"]["txt2img"]["peak_mib"]
    del engine, plain
    result["offload"] = offload(folder, device, dtype, args.steps, normal_peak)
    free(device)
    return result


def table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"engine vs plain diffusers · {report['size']} · {report['device']}/{report['dtype']} · "
                    f"{report['steps']} steps · median of {report['repeats']}")
    for col in ("measure", "target", *report["families"]):
        t.add_column(col, justify="left" if col == "measure" else "right")
    fam = list(report["families"].values())
    sw = lambda f, k, m: f["switching"][k][m]  # noqa: E731
    rows = [
        ("txt2img images/s engine", "", lambda f: f"{f['speed']['engine_images_per_s']:.3f}"),
        ("txt2img images/s plain", "", lambda f: f"{f['speed']['plain_images_per_s']:.3f}"),
        ("engine / plain (speed)", ">= 0.95", lambda f: f"{f['speed']['engine_vs_plain']:.3f}"),
        ("4 batched / 4 single, text", "<= 0.6", lambda f: f"{f['speed']['batched_vs_single_txt']:.3f}"),
        ("4 batched / 4 single, image", "<= 0.6", lambda f: f"{f['speed']['batched_vs_single_img']:.3f}"),
        ("allocated after load (MiB)", "", lambda f: str(f["switching"]["after_load"]["allocated_mib"])),
        ("allocated growth t2i->i2i->inpaint", "~0", lambda f: str(f["switching"]["allocated_growth_mib"])),
        ("peak txt2img / img2img / inpaint", "flat",
         lambda f: " / ".join(str(sw(f, k, "peak_mib")) for k in ("txt2img", "img2img", "inpaint"))),
        ("derive s (first-call extra s), i2i / inpaint", "~0", lambda f: " / ".join(
            f"{sw(f, k, 'derive_s')} ({sw(f, k, 'extra_first_call_s')})" for k in ("img2img", "inpaint"))),
        ("offload peak / normal peak", "< 1", lambda f: str(f["offload"].get("peak_ratio") or f["offload"]["skipped"])),
        ("load s (build s)", "", lambda f: f"{f['load_s']} ({f['build_s']})"),
    ]
    for name, target, cell in rows:
        t.add_row(name, target, *(cell(f) for f in fam))
    Console(width=140).print(t)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=("tiny", "full"), default="full")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", choices=("float16", "bfloat16", "float32"), default=None,
                   help="default: bfloat16 on cuda, float32 on cpu")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default 20 full, 4 tiny)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--families", default="sd15,sdxl")
    p.add_argument("--out", default="engine_gpu.json")
    args = p.parse_args(argv)
    from tools.engine.device import pick_device, pick_dtype
    from tools.engine.quiet import quiet_libraries

    quiet_libraries()
    warnings.filterwarnings("ignore", message="invalid value encountered")  # random weights may decode NaNs
    device = pick_device(args.device)
    dtype = pick_dtype(device, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    args.steps = args.steps or (4 if args.size == "tiny" else 20)
    if args.steps < 2:  # img2img and variations run at strength 0.5: int(steps x 0.5) must be >= 1
        p.error("--steps must be at least 2")
    report = {"size": args.size, "device": str(device), "dtype": str(dtype).removeprefix("torch."),
              "steps": args.steps, "repeats": args.repeats, "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None, "families": {}}
    with tempfile.TemporaryDirectory(prefix="engine-gpu-") as tmp:
        for family in args.families.split(","):
            report["families"][family] = run_family(family, args, device, dtype, Path(tmp))
    Path(args.out).write_text(json.dumps(report, indent=2))
    table(report)
    return report


if __name__ == "__main__":
    main()
