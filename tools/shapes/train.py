"""Train the shapes model: VAE, then UNet and text encoder on pre-encoded latents.

    python -m tools.shapes.train --work .cache/shapes-train --out tools/shapes/weights

Seeded and resumable: each stage leaves its result in ``--work`` and the UNet stage checkpoints
every ``--ckpt-every`` steps, so killing and re-running the same command continues where it
stopped. Runs on CPU and CUDA (``--device``). Progress and loss are printed as it goes.
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

from tools.shapes.model import (
    ShapesModelConfig,
    build_scheduler,
    build_text_encoder,
    build_tokenizer,
    build_unet,
    build_vae,
)
from tools.errors import LayoutError
from tools.files import atomic_save
from tools.shapes.render import render
from tools.shapes.sample import random_brief
from tools.shapes.export import export, snapshot_path

# Share of 1-, 2- and 3-object scenes in the training data: multi-object binding is the hard part.
DIFFICULTY_MIX = (0.25, 0.40, 0.35)
CAPTION_DROPOUT = 0.1  # empty prompts, so classifier-free guidance has an unconditional model


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save_torch(obj, path: Path) -> None:
    atomic_save(path, lambda tmp: torch.save(obj, tmp))


def to_tensor(images: list) -> torch.Tensor:
    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def sample_scene(rng: np.random.Generator, size: int):
    n = int(rng.choice([1, 2, 3], p=DIFFICULTY_MIX))
    while True:
        brief = random_brief(rng, n)
        try:
            image, _ = render(brief, rng, size)
        except LayoutError:  # vanishingly rare after the sampler's own check; draw another
            continue
        return brief.text(), image


# -- stage 1: the VAE -----------------------------------------------------------------------------
def object_weights(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel loss weights: pixels that differ from the border colour (objects) count 10x.

    Objects cover a tenth of a scene; unweighted, blurring them costs the loss little and the
    VAE learns them last. The detector, and so every requirement, lives on those pixels.
    """
    border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], dim=2)
    background = border.median(dim=2).values[:, :, None, None]
    return 1 + 9 * ((x - background).abs().amax(1, keepdim=True) > 0.1).float()


def init_small_posterior(vae) -> None:
    """Start the encoder's log-variance at -8 (std 0.02).

    diffusers' img2img and inpaint pipelines *sample* the posterior when they encode an image, so
    its std must be small; at the default init (std 1) the sampled latents drown the image and
    the weak KL term never pulls the std down.
    """
    c = vae.config.latent_channels
    with torch.no_grad():
        vae.quant_conv.weight[c:].zero_()
        vae.quant_conv.bias[c:].fill_(-8.0)


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_vae(args, cfg: ShapesModelConfig, work: Path, device: torch.device) -> None:
    final = work / "vae_final.pt"
    if final.exists():
        log("vae: done already")
        return
    ckpt_path = work / "vae_ckpt.pt"
    torch.manual_seed(args.seed)
    vae = build_vae(cfg).to(device)
    init_small_posterior(vae)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    rng = np.random.default_rng([args.seed, 1])
    step = 0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        step = state["step"]
        log(f"vae: resumed at step {step}")
    t0, running = time.time(), None
    while step < args.vae_steps:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.vae_steps, args.vae_lr, 50)
        x = to_tensor([sample_scene(rng, cfg.image_size)[1] for _ in range(args.vae_batch)]).to(device)
        post = vae.encode(x).latent_dist
        err = vae.decode(post.sample()).sample - x
        w = object_weights(x)
        # L1 keeps edges sharp, L2 punishes the odd wrong colour; the tiny KL keeps latents tame.
        loss = (w * (err.abs() + err.pow(2))).mean() / w.mean() + args.vae_kl * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0:
            rate = (time.time() - t0) / 100
            t0 = time.time()
            log(f"vae step {step}/{args.vae_steps} loss {running:.4f} posterior std {post.std.mean().item():.3f} "
                f"{rate:.2f}s/step eta {rate * (args.vae_steps - step) / 60:.0f} min")
        if step % 500 == 0 or step == args.vae_steps:
            save_torch({"model": vae.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                         "step": step}, ckpt_path)
    save_torch({"model": vae.state_dict(), "steps": step}, final)
    log("vae: finished")


# -- stage 2: the latent dataset ------------------------------------------------------------------
def encode_dataset(args, cfg: ShapesModelConfig, work: Path, device: torch.device, tokenizer) -> None:
    final = work / "latents.npz"
    if final.exists():
        log("data: done already")
        return
    vae = build_vae(cfg).to(device)
    vae.load_state_dict(torch.load(work / "vae_final.pt", weights_only=False)["model"])
    vae.eval()
    rng = np.random.default_rng([args.seed, 2])
    n, chunk = args.data_size, 500
    means = np.zeros((n, cfg.latent_channels, cfg.image_size // 4, cfg.image_size // 4), np.float16)
    stds = np.zeros_like(means)
    captions: list[str] = []
    t0 = time.time()
    with torch.no_grad():
        for start in range(0, n, chunk):
            scenes = [sample_scene(rng, cfg.image_size) for _ in range(min(chunk, n - start))]
            captions += [c for c, _ in scenes]
            dist = vae.encode(to_tensor([im for _, im in scenes]).to(device)).latent_dist
            means[start:start + len(scenes)] = dist.mean.cpu().numpy()
            stds[start:start + len(scenes)] = dist.std.cpu().numpy()
            if (start // chunk) % 20 == 0:
                log(f"data: {start + len(scenes)}/{n} scenes encoded ({time.time() - t0:.0f}s)")
    ids = tokenizer(captions, padding="max_length", max_length=cfg.max_tokens, truncation=True,
                    return_tensors="np").input_ids.astype(np.int16)
    # The scaling factor makes latents unit-variance, as diffusion noise schedules assume.
    scale = float(1.0 / np.std(means.astype(np.float32)))
    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:  # np.savez appends ".npz" to a file name without it; a file object it leaves
            np.savez(f, means=means, stds=stds, ids=ids, scale=np.float32(scale))

    atomic_save(final, write)
    (work / "captions.json").write_text(json.dumps(captions[:2000], indent=0))
    log(f"data: {n} scenes, latent scaling factor {scale:.4f}")


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
