"""Whole runs driven by hf: critics (each family, each mode, with a localiser), the critic options on
the command line and in sculpt.toml, and every way a model folder can be wrong: one line, the
README's exit code, never a traceback, nothing lost in the run folder."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from agent.cli import sculpt_app
from agent.critics.registry import make_critic

app = sculpt_app()
BRIEF = "a red circle to the left of a blue square, yellow background"
RUN_FILES = ("run.json", "tree.json", "events.jsonl", "report.html", "checkpoint.sqlite")


@pytest.fixture
def cli(shapes_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("SCULPT_CONFIG", "SCULPT_MODEL", "SCULPT_CRITIC", "SCULPT_BUDGET", "SCULPT_CRITIC_OPTIONS"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args: str):
        base = ["--model", str(shapes_model_dir), "--steps", "4", "--out", str(tmp_path / "runs"), "-q"]
        return CliRunner().invoke(app, [*args, *(base if args[0] == "run" else [])])

    return invoke


def runs(tmp_path) -> list:
    folder = tmp_path / "runs"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def one_line_error(output: str) -> str:
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.mark.parametrize("family,mode", [("idefics3", "vqa"), ("idefics3", "judge"), ("llava", "vqa"),
                                         ("llava", "judge"), ("paligemma", "vqa")])
def test_a_whole_run_with_each_family_and_mode(cli, tmp_path, tiny_vlm_dir, family, mode):
    r = cli("run", BRIEF, "--critic", f"hf:{tiny_vlm_dir(family)}", "--critic-option", f"mode={mode}",
            "--critic-option", "max_tokens=400", "--budget", "2")
    assert r.exit_code in (0, 3), r.output
    (run_dir,) = runs(tmp_path)
    assert all((run_dir / name).is_file() for name in RUN_FILES)
    spec = json.loads((run_dir / "run.json").read_text())["spec"]
    assert spec["critic"] == f"hf:{tiny_vlm_dir(family)}"
    assert spec["critic_options"] == {"mode": mode, "max_tokens": "400"}
    critiques = [json.loads(p.read_text()) for p in (run_dir / "critiques").glob("*.json")]
    assert critiques and {c["prompt_version"] for c in critiques} == {"vqascore@1" if mode == "vqa" else "critique@1"}
    assert all(c["usage"]["calls"] >= 1 and c["usage"]["seconds"] > 0 for c in critiques)


@pytest.mark.parametrize("detector", ["owlv2", "grounding-dino"])
def test_a_run_with_a_localiser_records_it(cli, tmp_path, tiny_vlm_dir, tiny_detector_dir, detector):
    r = cli("run", BRIEF, "--critic", f"hf:{tiny_vlm_dir('llava')}", "--localiser",
            f"hf:{tiny_detector_dir(detector)}", "--budget", "2")
    assert r.exit_code in (0, 3), r.output
    (run_dir,) = runs(tmp_path)
    assert json.loads((run_dir / "run.json").read_text())["spec"]["localiser"] == f"hf:{tiny_detector_dir(detector)}"
    for path in (run_dir / "critiques").glob("*.json"):
        crit = json.loads(path.read_text())
        assert all(o["source"] == "localiser" for o in crit["objects"])
        assert all(v["region"]["source"] == "localiser" for v in crit["verdicts"] if v.get("region"))


def test_options_come_from_sculpt_toml_and_flags_override_them(cli, tmp_path, tiny_vlm_dir):
    (tmp_path / "sculpt.toml").write_text(f'critic = "hf:{tiny_vlm_dir("llava")}"\n'
                                          '[critic_options]\nthreshold = 0.25\nbatched = false\n')
    r = cli("run", BRIEF, "--critic-option", "threshold=0.75", "--budget", "1")
    assert r.exit_code in (0, 3), r.output
    (run_dir,) = runs(tmp_path)
    spec = json.loads((run_dir / "run.json").read_text())["spec"]
    assert spec["critic_options"] == {"threshold": "0.75", "batched": False}
    # resume takes options too, and run.json records them from then on
    r = cli("resume", str(run_dir), "--critic-option", "threshold=0.1", "--budget", "2")
    assert r.exit_code in (0, 3), r.output
    assert json.loads((run_dir / "run.json").read_text())["spec"]["critic_options"]["threshold"] == "0.1"


def test_bad_options_are_one_line_naming_the_known_keys(cli, tmp_path, tiny_vlm_dir):
    r = cli("run", BRIEF, "--critic", f"hf:{tiny_vlm_dir('llava')}", "--critic-option", "temprature=0")
    assert r.exit_code == 2 and "['temprature']" in one_line_error(r.output) and "threshold" in r.output
    r = cli("run", BRIEF, "--critic", "scene", "--critic-option", "mode=vqa")
    assert r.exit_code == 2 and "the scene critic; it takes no options" in one_line_error(r.output)
    r = cli("run", BRIEF, "--critic", f"hf:{tiny_vlm_dir('llava')}", "--critic-option", "mode")
    assert r.exit_code == 2 and "--critic-option takes KEY=VALUE" in one_line_error(r.output)
    assert runs(tmp_path) == []


def test_model_folders_that_are_wrong_are_named(cli, tmp_path, tiny_vlm_dir, tiny_detector_dir, tiny_model_dir):
    no_processor = tmp_path / "no-processor"
    no_processor.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        if (tiny_vlm_dir("llava") / name).exists():
            shutil.copy(tiny_vlm_dir("llava") / name, no_processor / name)
    cases = [
        (f"hf:{tiny_detector_dir('owlv2')}", (), "is a 'owlv2' model, not an image-text-to-text model"),
        (f"hf:{tiny_model_dir / 'text_encoder'}", (), "not an image-text-to-text model"),
        (f"hf:{tmp_path}", (), "has no usable config.json"),
        (f"hf:{no_processor}", (), "has no processor that loads"),
        (f"hf:{tiny_vlm_dir('llava', chat_template=False)}", ("--critic-option", "mode=judge"),
         "judge mode needs a chat template"),
        ("hf:nobody/no-such-model", (), "never downloads critic weights"),
        (f"hf:{tiny_vlm_dir('llava')}", ("--localiser", f"hf:{tiny_vlm_dir('llava')}"), "without <loc0000>"),
    ]
    for spec, extra, words in cases:
        r = cli("run", BRIEF, "--critic", spec, *extra)
        assert r.exit_code == 2, (spec, r.output)
        assert words in one_line_error(r.output), (spec, r.output)
    assert runs(tmp_path) == []  # a critic that cannot be built leaves no run folder behind


def test_out_of_memory_stops_the_run_resumably(cli, tmp_path, tiny_vlm_dir, monkeypatch):
    vlm = make_critic(f"hf:{tiny_vlm_dir('llava')}").vlm  # the model every hf:llava critic shares
    real = type(vlm.model).forward

    def oom(*args, **kwargs):  # what a device too small for the model raises; no CPU can run out on cue
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(type(vlm.model), "forward", oom)
    r = cli("run", BRIEF, "--critic", f"hf:{tiny_vlm_dir('llava')}", "--budget", "2")
    assert r.exit_code == 4, r.output
    assert "out of memory on cpu while reading P(yes)" in r.output and "Traceback" not in r.output
    (run_dir,) = runs(tmp_path)
    assert all((run_dir / name).is_file() for name in ("run.json", "tree.json", "events.jsonl", "checkpoint.sqlite"))
    monkeypatch.setattr(type(vlm.model), "forward", real)
    r = cli("resume", str(run_dir))  # the memory is back: the same run carries on
    assert r.exit_code in (0, 3), r.output
    tree = json.loads((run_dir / "tree.json").read_text())
    assert any(n.get("critique") for n in tree["nodes"].values())


def test_bench_and_eval_critic_carry_the_options(tiny_vlm_dir, tmp_path):
    from evals.bench.config import BenchConfig
    from evals.critic_eval.critics import resolve_critics

    plain = BenchConfig(critic=f"hf:{tiny_vlm_dir('llava')}", out=tmp_path)
    tuned = BenchConfig(critic=plain.critic, critic_settings={"threshold": "0.3"}, localiser="hf:det", out=tmp_path)
    assert plain.critic_identity() == plain.critic  # no options: the digest of earlier benchmarks holds
    assert tuned.critic_identity() == {"spec": plain.critic, "options": {"threshold": "0.3"}, "localiser": "hf:det"}
    assert "--critic-option threshold=0.3 --localiser hf:det" in tuned.command()
    (one,) = resolve_critics([plain.critic], {"threshold": "0.3"})
    (other,) = resolve_critics([plain.critic])
    assert one.critic.options.threshold == 0.3 and one.identity != other.identity
