"""Stages 1 and 2 of training the shapes model: the VAE, then every scene encoded once into latents.

Shared helpers for the training stages (logging, atomic checkpoints, scene sampling) live here too;
tools/shapes/train.py runs the stages and holds stage 3 (UNet and text encoder).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from tools.errors import LayoutError
from tools.files import atomic_save
from tools.shapes.model import ShapesModelConfig, build_vae
from tools.shapes.render import render
from tools.shapes.sample import random_brief

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
