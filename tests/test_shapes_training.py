"""The shapes model's training script at toy size: it runs, resumes, keeps snapshots and exports a
folder the engine loads."""
from __future__ import annotations

import json

from tools.engine import Engine
from tools.shapes.train import main as train

TOY = ["--vae-steps", "6", "--data-size", "48", "--batch", "8", "--vae-batch", "4", "--preview-every", "0",
       "--log-every", "3", "--ckpt-every", "3", "--snapshot-every", "3", "--threads", "1"]


def test_toy_training_resumes_keeps_snapshots_and_exports_a_loadable_model(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "out"
    train(["--work", str(work), "--out", str(out), "--steps", "3", *TOY])
    train(["--work", str(work), "--out", str(out), "--steps", "6", *TOY])  # the same run, longer
    log = capsys.readouterr().out
    assert "vae: done already" in log and "unet: resumed at step 3" in log
    assert sorted(p.name for p in work.glob("unet_step_*.pt")) == ["unet_step_000003.pt", "unet_step_000006.pt"]
    info = json.loads((out / "training.json").read_text())
    assert info["unet_steps"] == 6 and info["exported_from"] == "unet_final.pt"
    assert set(json.loads((out / "sculpt.json").read_text())) == {"steps", "guidance", "palette"}

    early = tmp_path / "early"
    train(["--work", str(work), "--out", str(early), "--stage", "export", "--from-step", "3", *TOY])
    assert json.loads((early / "training.json").read_text())["exported_from"] == "unet_step_000003.pt"
    engine = Engine.load(early, steps=2)
    assert engine.palette["red"] == (220, 40, 40)
    image = engine.txt2img("a red circle, white background", seed=0).image
    assert image.size == (64, 64)
