"""Train the shapes model: VAE, then UNet and text encoder on pre-encoded latents.

    python -m tools.shapes.train --work .cache/shapes-train --out tools/shapes/weights

Seeded and resumable: each stage leaves its result in ``--work`` and the UNet stage checkpoints
every ``--ckpt-every`` steps, so killing and re-running the same command continues where it
stopped. Runs on CPU and CUDA (``--device``). Progress and loss are printed as it goes. Stages 1
and 2 (the VAE, the latent dataset) are in tools/shapes/train_vae.py.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.shapes.export import export, snapshot_path
from tools.shapes.model import (
    ShapesModelConfig,
    build_scheduler,
    build_text_encoder,
    build_tokenizer,
    build_unet,
    build_vae,
)
from tools.shapes.sample import random_brief
from tools.shapes.train_vae import (
    CAPTION_DROPOUT,
    encode_dataset,
    log,
    save_torch,
    train_vae,
)

# -- stage 3: UNet and text encoder ---------------------------------------------------------------
def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    decay_start = int(args.steps * 0.8)
    if step < decay_start:
        return args.lr
    frac = (step - decay_start) / max(1, args.steps - decay_start)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def sample_timesteps(n: int, gen: torch.Generator, device) -> torch.Tensor:
    """Half uniform, half from the noisier half: layout and colour are decided at high noise."""
    t = torch.randint(0, 1000, (n,), generator=gen)
    high = torch.randint(500, 1000, (n,), generator=gen)
    pick = torch.rand(n, generator=gen) < 0.5
    return torch.where(pick, high, t).to(device)


@torch.no_grad()
def preview(unet, text_encoder, tokenizer, vae, scale: float, cfg, work: Path, step: int, device) -> None:
    """A grid of samples for fixed prompts, so progress can be seen, not only the loss."""
    from diffusers import StableDiffusionPipeline

    from PIL import Image

    vae.register_to_config(scaling_factor=scale)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=build_scheduler(), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(1234)
    prompts = [random_brief(rng, n).text() for n in (1, 1, 1, 2, 2, 2, 3, 3)]
    out = pipe(prompts, num_inference_steps=20, guidance_scale=4.0,
               generator=torch.Generator("cpu").manual_seed(0), height=cfg.image_size,
               width=cfg.image_size).images
    grid = Image.new("RGB", (cfg.image_size * len(out), cfg.image_size))
    for i, im in enumerate(out):
        grid.paste(im, (i * cfg.image_size, 0))
    grid.save(work / f"preview_{step:06d}.png")
    (work / "preview_prompts.txt").write_text("\n".join(prompts))


def train_unet(args, cfg: ShapesModelConfig, work: Path, device: torch.device, tokenizer) -> None:
    final = work / "unet_final.pt"
    if final.exists():
        done = torch.load(final, weights_only=False).get("steps", 0)
        if done >= args.steps:
            log("unet: done already")
            return
        # A longer schedule than the finished one: go on from the last checkpoint.
        log(f"unet: finished at {done} steps; continuing to {args.steps}")
    data = np.load(work / "latents.npz")
    means, stds, ids = (torch.from_numpy(data[k].astype(np.float32 if k != "ids" else np.int64))
                        for k in ("means", "stds", "ids"))
    scale = float(data["scale"])
    empty = torch.from_numpy(tokenizer([""], padding="max_length", max_length=cfg.max_tokens,
                                       return_tensors="np").input_ids.astype(np.int64))[0]
    torch.manual_seed(args.seed)
    unet = build_unet(cfg).to(device)
    text_encoder = build_text_encoder(cfg, len(tokenizer)).to(device)
    ema_unet = build_unet(cfg).to(device)
    ema_text = build_text_encoder(cfg, len(tokenizer)).to(device)
    ema_unet.load_state_dict(unet.state_dict())
    ema_text.load_state_dict(text_encoder.state_dict())
    params = list(unet.parameters()) + list(text_encoder.parameters())
    ema_params = list(ema_unet.parameters()) + list(ema_text.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    sched = build_scheduler()
    alphas = sched.alphas_cumprod.to(device)
    gen = torch.Generator().manual_seed(args.seed)
    step, spent = 0, 0.0
    ckpt_path = work / "unet_ckpt.pt"
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text"])
        ema_unet.load_state_dict(state["ema_unet"])
        ema_text.load_state_dict(state["ema_text"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        step, spent = state["step"], state.get("seconds", 0.0)
        log(f"unet: resumed at step {step}")
    vae = build_vae(cfg)
    vae.load_state_dict(torch.load(work / "vae_final.pt", weights_only=False)["model"])
    n = means.shape[0]
    t0, running = time.time(), None
    while step < args.steps:
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        noise_lat = torch.randn(means[idx].shape, generator=gen)
        x0 = ((means[idx] + stds[idx] * noise_lat) * scale).to(device)
        tok = ids[idx].clone()
        drop = torch.rand(args.batch, generator=gen) < CAPTION_DROPOUT
        tok[drop] = empty
        t = sample_timesteps(args.batch, gen, device)
        eps = torch.randn(x0.shape, generator=gen).to(device)
        a = alphas[t].sqrt().view(-1, 1, 1, 1)
        s = (1 - alphas[t]).sqrt().view(-1, 1, 1, 1)
        xt = a * x0 + s * eps
        v = a * eps - s * x0
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        pred = unet(xt, t, text_encoder(tok.to(device))[0]).sample
        loss = F.mse_loss(pred, v)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        with torch.no_grad():  # EMA warms up so early checkpoints are not dominated by init weights
            decay = min(args.ema, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema_params, params, 1 - decay)
        running = loss.item() if running is None else 0.99 * running + 0.01 * loss.item()
        if step % args.log_every == 0:
            elapsed = time.time() - t0
            spent += elapsed
            rate = elapsed / args.log_every
            t0 = time.time()
            log(f"unet step {step}/{args.steps} loss {running:.4f} lr {lr_at(step, args):.2e} "
                f"{rate:.2f}s/step eta {rate * (args.steps - step) / 3600:.1f} h")
        if step % args.ckpt_every == 0 or step == args.steps:
            save_torch({"unet": unet.state_dict(), "text": text_encoder.state_dict(),
                         "ema_unet": ema_unet.state_dict(), "ema_text": ema_text.state_dict(),
                         "opt": opt.state_dict(), "gen": gen.get_state(), "step": step,
                         "seconds": spent}, ckpt_path)
        if args.snapshot_every and step % args.snapshot_every == 0:
            # EMA weights only: what export needs, so any step can be measured and shipped later.
            save_torch({"ema_unet": ema_unet.state_dict(), "ema_text": ema_text.state_dict(), "steps": step,
                         "seconds": spent}, snapshot_path(work, step))
        if args.preview_every and step % args.preview_every == 0:
            preview(ema_unet.eval(), ema_text.eval(), tokenizer, vae, scale, cfg, work, step, device)
            ema_unet.train()
            ema_text.train()
    save_torch({"unet": ema_unet.state_dict(), "text": ema_text.state_dict(), "steps": step,
                 "seconds": spent}, final)
    log("unet: finished")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=".cache/shapes-train", help="checkpoints and data (not in git)")
    p.add_argument("--out", default="tools/shapes/weights", help="where the pipeline folder goes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--vae-steps", type=int, default=5000)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=5e-4)
    p.add_argument("--vae-kl", type=float, default=1e-6)
    p.add_argument("--data-size", type=int, default=150_000)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema", type=float, default=0.9995)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--preview-every", type=int, default=1000)
    p.add_argument("--snapshot-every", type=int, default=250,
                   help="keep the EMA weights every N steps (unet_step_NNNNNN.pt), for --from-step")
    p.add_argument("--from-step", type=int, default=0,
                   help="export: the EMA snapshot of this step instead of the final weights")
    p.add_argument("--stage", choices=["all", "vae", "data", "unet", "export"], default="all")
    p.add_argument("--sample-steps", type=int, default=20, help="recommended sampling steps, saved with the model")
    p.add_argument("--guidance", type=float, default=4.0, help="recommended guidance scale, saved with the model")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg_path = work / "config.json"
    cfg = (ShapesModelConfig.from_dict(json.loads(cfg_path.read_text())) if cfg_path.exists()
           else ShapesModelConfig())
    cfg_path.write_text(json.dumps(cfg.to_dict(), indent=2))
    tokenizer = build_tokenizer(work / "tokenizer", cfg.max_tokens)
    log(f"training the shapes model on {device} with {torch.get_num_threads()} threads; work dir {work}")
    if args.stage in ("all", "vae"):
        train_vae(args, cfg, work, device)
    if args.stage in ("all", "data"):
        encode_dataset(args, cfg, work, device, tokenizer)
    if args.stage in ("all", "unet"):
        train_unet(args, cfg, work, device, tokenizer)
    if args.stage in ("all", "export"):
        log(f"exported the pipeline to {export(args, cfg, work, tokenizer)}")


if __name__ == "__main__":
    main()
