"""Stage 4 of training the shapes model: the EMA weights (final, or a kept snapshot) exported as a
standard diffusers folder, with what made them (training.json) and how to sample them (sculpt.json)."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from tools.shapes.model import (
    ShapesComponents,
    ShapesModelConfig,
    build_scheduler,
    build_text_encoder,
    build_unet,
    build_vae,
    save_pipeline,
)
from tools.shapes.vocab import COLOURS


def snapshot_path(work: Path, step: int) -> Path:
    return work / f"unet_step_{step:06d}.pt"


def export(args, cfg: ShapesModelConfig, work: Path, tokenizer) -> Path:
    vae = build_vae(cfg)
    vae.load_state_dict(torch.load(work / "vae_final.pt", weights_only=False)["model"])
    vae.register_to_config(scaling_factor=float(np.load(work / "latents.npz")["scale"]))
    if args.from_step:
        source = snapshot_path(work, args.from_step)
        if not source.exists():
            have = sorted(int(p.stem.split("_")[-1]) for p in work.glob("unet_step_*.pt"))
            raise SystemExit(f"no snapshot at step {args.from_step} in {work}; snapshots: {have or 'none'}")
    else:
        source = work / "unet_final.pt" if (work / "unet_final.pt").exists() else work / "unet_ckpt.pt"
    state = torch.load(source, weights_only=False)
    unet, text = build_unet(cfg), build_text_encoder(cfg, len(tokenizer))
    # Checkpoints hold both weights (EMA exported); snapshots and the final file hold only the EMA.
    unet.load_state_dict(state["ema_unet"] if "ema_unet" in state else state["unet"])
    text.load_state_dict(state["ema_text"] if "ema_text" in state else state["text"])
    out = Path(args.out)
    save_pipeline(ShapesComponents(vae=vae, unet=unet, text_encoder=text, tokenizer=tokenizer,
                                   scheduler=build_scheduler(), config=cfg), out)
    info = {
        "config": cfg.to_dict(), "seed": args.seed, "unet_steps": state.get("steps", state.get("step")),
        "unet_seconds": round(state.get("seconds", 0.0)), "vae_steps": args.vae_steps,
        "batch": args.batch, "lr": args.lr, "ema": args.ema, "data_size": args.data_size,
        "device": str(args.device), "threads": torch.get_num_threads(), "cpu": platform.processor(),
        "torch": torch.__version__, "command": "python -m tools.shapes.train " + " ".join(sys.argv[1:]),
        "exported_from": source.name,
    }
    (out / "training.json").write_text(json.dumps(info, indent=2))
    # Recommended sampling settings, read by the engine when the folder is loaded.
    (out / "sculpt.json").write_text(json.dumps({"steps": args.sample_steps, "guidance": args.guidance,
                                                 "palette": {k: list(v) for k, v in COLOURS.items()}}, indent=2))
    return out
