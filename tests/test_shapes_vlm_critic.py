"""`--critic shapes-vlm`: the shipped shapes critic model drives a run through the generic hf: path,
and nothing the exact detector computes reaches the agent (the detector is made unavailable here)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import sculpt_app
from agent.critics.registry import make_critic, resolve_alias

app = sculpt_app()
BRIEF = "a red circle to the left of a blue square, white background"


@pytest.fixture
def no_detector(monkeypatch):
    """Every way into the exact detector raises: the shapes world's truth must not leak into the run."""
    calls = []

    def unavailable(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("the exact detector is unavailable in a run driven by the learned critic")

    for target in ("tools.shapes.detect.detect", "agent.critics.scene.detect", "agent.critics.noise_model.detect"):
        monkeypatch.setattr(target, unavailable)
    return calls


def test_shapes_vlm_is_the_shipped_folder_loaded_as_any_hf_model():
    assert resolve_alias("shapes-vlm").startswith("hf:") and resolve_alias("shapes-vlm").endswith("vlm_weights")
    critic = make_critic("shapes-vlm")
    assert critic.name == resolve_alias("shapes-vlm") and critic.exact is False
    assert critic.describe()["model_type"] == "paligemma" and critic.localiser is not None  # its own <loc> tokens


def test_a_run_driven_by_the_learned_critic_never_runs_the_exact_detector(no_detector, shapes_model_dir, tmp_path):
    result = CliRunner().invoke(app, ["run", BRIEF, "--critic", "shapes-vlm", "--model", str(shapes_model_dir),
                                      "--budget", "3", "--out", str(tmp_path / "runs")])
    assert result.exit_code in (0, 3), result.output
    assert no_detector == []
    run_dir = next((tmp_path / "runs").iterdir())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["spec"]["critic"] == "shapes-vlm" and info["critic_name"] == resolve_alias("shapes-vlm")
    nodes = json.loads((run_dir / "tree.json").read_text())["nodes"]
    critiques = [n["critique"] for n in nodes.values() if n.get("critique")]
    assert critiques and all(c["critic"] == info["critic_name"] for c in critiques)
    # Where things are comes only from the model's own boxes, marked as the localiser's (the shipped
    # weights find few: VLM_MODEL_CARD.md).
    objects = [o for c in critiques for o in c.get("objects", [])]
    assert all(o["source"] == "localiser" for o in objects)
