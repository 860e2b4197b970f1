"""What a live preview costs per image (tools/engine/preview.py), on this machine's CPU.

    python -m evals.preview_cost [--shapes-steps 20,200] [--sd-steps 3] [--repeat 3] [--out preview-cost.json]

- the shipped shapes model (64x64, previews by its own small decoder): the same txt2img with and
  without the studio's step hook (at most six previews an image, decoded ones within 5% of its time),
  fastest of ``--repeat`` each, and what one decoder pass costs;
- a full-size SD 1.5 architecture (a 860M-parameter UNet, the standard autoencoder, CLIP ViT-L's text
  encoder) with random weights, built in code (nothing is downloaded), at 512x512: one denoising step,
  one linear preview (what the studio shows) and, for comparison, one full decoder pass (what a
  preview by the decoder would cost). A whole image's cost is extrapolated from ``--sd-steps`` steps
  to 30 (diffusers' default for SD) with six previews.
Threads: OMP_NUM_THREADS (default 1).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

PREVIEWS = 6


def fastest(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def shapes(engine, steps: int, repeat: int) -> dict:
    from tools.engine.preview import StepHook

    engine.txt2img("a red circle", seed=0, steps=steps)  # warm
    hooks = []

    def watched():
        hook = StepHook(on_preview=lambda *a: None)
        hooks.append(hook)
        engine.txt2img("a red circle", seed=0, steps=steps, on_step=hook)

    def decoded():
        import torch

        from tools.engine.preview import preview

        with torch.inference_mode():
            preview(engine.pipeline("txt2img"), torch.randn(1, 4, 16, 16))

    plain = fastest(lambda: engine.txt2img("a red circle", seed=0, steps=steps), repeat)
    with_previews = fastest(watched, repeat)
    hook = min(hooks, key=lambda h: h.seconds)
    return {"model": "shapes (64x64, its own decoder)", "steps": steps, "image_s": round(plain, 4),
            "image_with_previews_s": round(with_previews, 4), "previews": hook.previews,
            "previews_s": round(hook.seconds, 4), "decoder_pass_ms": round(1000 * fastest(decoded, 5), 2),
            "added": round(hook.seconds / plain, 4)}


def sd15(steps: int) -> dict:
    """A random-weight SD 1.5 pipeline: its UNet, autoencoder and text encoder configurations."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.tiny_models import write_tiny_tokenizer
    from tools.engine.preview import preview

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                                block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
                                attention_head_dim=8,
                                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        sample_size=512, scaling_factor=0.18215)
    tok_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "sculpt-preview-cost-tokenizer"
    write_tiny_tokenizer(tok_dir, max_length=77)  # the words do not matter with random weights; the encoder's size does
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                        bos_token_id=len(tokenizer) - 2, eos_token_id=len(tokenizer) - 1))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=DDIMScheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    latents = torch.randn(1, 4, 64, 64)
    with torch.inference_mode():
        t0 = time.perf_counter()
        pipe(prompt="a red circle", num_inference_steps=steps, guidance_scale=7.0, output_type="latent")
        per_step = (time.perf_counter() - t0) / steps
        linear = fastest(lambda: preview(pipe, latents), 5)
        decoder = fastest(lambda: vae.decode(latents / 0.18215).sample, 1)
    image = 30 * per_step
    return {"model": "SD 1.5 architecture, random weights (512x512)", "measured_steps": steps,
            "step_s": round(per_step, 3), "image_s_30_steps": round(image, 1),
            "linear_preview_ms": round(1000 * linear, 2), "decoder_pass_s": round(decoder, 3),
            "previews_per_image": PREVIEWS, "added_linear": round(PREVIEWS * linear / image, 5),
            "added_if_decoded": round(PREVIEWS * decoder / image, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes-steps", default="20,200", help="steps of the shapes model's images, comma-separated")
    ap.add_argument("--sd-steps", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-sd", action="store_true", help="only the shapes model")
    ap.add_argument("--out", type=Path, default=Path("preview-cost.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from agent.components import shapes_model_path
    from tools.engine import Engine

    engine = Engine.load(shapes_model_path())
    rows = []
    for steps in (int(s) for s in args.shapes_steps.split(",")):
        rows.append(shapes(engine, steps, args.repeat))
        print(json.dumps(rows[-1]))
    if not args.skip_sd:
        rows.append(sd15(args.sd_steps))
        print(json.dumps(rows[-1]))
    args.out.write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
