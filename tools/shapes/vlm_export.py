"""Export the shapes critic model as a standard transformers folder (PaliGemma, float16 on disk).

The folder loads through ``AutoProcessor`` and ``AutoModelForImageTextToText`` alone, like any hub
VLM. Weights are stored in float16 to stay small in git; the config asks for float32, so a plain
``from_pretrained`` on a CPU computes in float32 (a critic's probabilities should not carry half
precision's rounding), and a GPU user may still pass ``dtype``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from tools.shapes.vlm_model import VLMConfig, build_model, build_processor, n_parameters


def export(args, cfg: VLMConfig, work: Path) -> Path:
    raw = getattr(args, "weights", "ema") == "raw"
    if raw and args.from_step:
        raise SystemExit("--weights raw exports the last checkpoint (ckpt.pt); leave out --from-step")
    name = f"ema_step_{args.from_step:06d}.pt" if args.from_step else "ckpt.pt"
    state = torch.load(work / name, weights_only=False)
    processor = build_processor(cfg)
    model = build_model(cfg, processor.tokenizer)
    model.load_state_dict(state["model" if raw else "ema"])
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    processor.save_pretrained(out)
    model.to(torch.float16).save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    config["dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    last = state if "history" in state else torch.load(work / "ckpt.pt", weights_only=False)
    history = last.get("history", [])
    info = {"exported_from": name, "weights": "raw" if raw else "ema", "steps": state["step"], "parameters": n_parameters(model),
            "config": cfg.to_dict(), "seed": args.seed, "recipe": last.get("recipe"),
            "held_out": [h for h in history if h["step"] <= state["step"]][-1:] or None}
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return out
