"""`sculpt batch`: many briefs with one engine, invalid ones recorded, reruns skip or resume."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from agent.cli import sculpt_app

app = sculpt_app()

GOOD_A = "a red circle to the left of a blue square, yellow background"
GOOD_B = "a green triangle, white background"


def batch(tmp_path, model, briefs, script, out):
    return CliRunner().invoke(app, ["batch", str(briefs), "--out", str(out), "--model", str(model), "--steps", "4",
                                    "--budget", "3", "--critic", f"scripted:{script}"])


def test_batch_runs_every_brief_and_reruns_skip(tmp_path, shapes_model_dir):
    briefs = tmp_path / "briefs.txt"
    briefs.write_text(f"# tonight\n{GOOD_A}\n\n, ,\n{json.dumps({'brief': GOOD_B, 'seed': 42})}\n")
    script = tmp_path / "pass.json"
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))
    out = tmp_path / "night"
    r = batch(tmp_path, shapes_model_dir, briefs, script, out)
    assert r.exit_code == 3, r.output  # one brief could not be read, so not everything was accepted
    manifest = json.loads((out / "batch.json").read_text())["items"]
    statuses = {k[:3]: v["status"] for k, v in manifest.items()}
    assert statuses == {"001": "accepted", "002": "invalid", "003": "accepted"}
    assert "nothing checkable" in manifest[next(k for k in manifest if k.startswith("002"))]["error"]
    assert next(v for k, v in manifest.items() if k.startswith("003"))["seed"] == 42
    summary = (out / "summary.md").read_text()
    assert "accepted: 2" in summary and "invalid: 1" in summary
    html = (out / "summary.html").read_text()
    for entry in manifest.values():
        if entry.get("best_image"):
            assert (out / entry["best_image"]).is_file() and entry["best_image"] in html
    images = sorted(p.name for p in out.rglob("*.png"))
    r = batch(tmp_path, shapes_model_dir, briefs, script, out)  # the morning after: nothing to do
    assert r.exit_code == 3
    assert sorted(p.name for p in out.rglob("*.png")) == images
    assert json.loads((out / "batch.json").read_text())["items"] == manifest


def test_batch_stops_when_the_critic_is_down_and_resumes(tmp_path, shapes_model_dir):
    briefs = tmp_path / "briefs.txt"
    briefs.write_text(f"{GOOD_A}\n{GOOD_B}\n")
    script = tmp_path / "critic.json"
    script.write_text(json.dumps({"critiques": [{"fail": ["g0.left_of.g1"]}, {"error": "unavailable"}]}))
    out = tmp_path / "night"
    r = batch(tmp_path, shapes_model_dir, briefs, script, out)
    assert r.exit_code == 4, r.output
    manifest = json.loads((out / "batch.json").read_text())["items"]
    assert [v["status"] for v in manifest.values()] == ["critic_unavailable"]  # the second never started
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))  # the server is back
    r = batch(tmp_path, shapes_model_dir, briefs, script, out)
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "batch.json").read_text())["items"]
    assert [v["status"] for v in manifest.values()] == ["accepted", "accepted"]
    first = next(iter(manifest.values()))
    # Resumed: n2, made before the outage, was kept and critiqued, then confirmed by one witness (n3)
    # and accepted: nothing was made again.
    assert (first["generations"], first["best"]) == (3, "n2")


def test_a_batch_in_process_never_imports_ray(tmp_path, shapes_model_dir):
    """Without --workers or --ray nothing of Ray is loaded: it stays an optional extra."""
    import subprocess
    import sys

    briefs = tmp_path / "briefs.txt"
    briefs.write_text(f"{GOOD_B}\n")
    code = ("import sys; from typer.testing import CliRunner; from agent.cli import sculpt_app; "
            "r = CliRunner().invoke(sculpt_app(), sys.argv[1:]); print(r.exit_code, 'ray' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code, "batch", str(briefs), "--out", str(tmp_path / "night"),
                        "--model", str(shapes_model_dir), "--steps", "2", "--budget", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.stdout.split()[-2:] in (["0", "False"], ["3", "False"]), p.stdout + p.stderr[-2000:]
    assert json.loads((tmp_path / "night" / "batch.json").read_text())["items"]


def test_a_night_budget_stops_a_batch_in_process_too(tmp_path, shapes_model_dir):
    briefs = tmp_path / "briefs.txt"
    briefs.write_text(f"{GOOD_A}\n{GOOD_B}\n")
    script = tmp_path / "pass.json"
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))
    out = tmp_path / "night"
    r = CliRunner().invoke(app, ["batch", str(briefs), "--out", str(out), "--model", str(shapes_model_dir),
                                 "--steps", "4", "--budget", "3", "--critic", f"scripted:{script}",
                                 "--total-images", "1"])
    assert r.exit_code == 3, r.output
    manifest = json.loads((out / "batch.json").read_text())
    assert [v["status"] for v in manifest["items"].values()] == ["accepted"]
    assert manifest["night"]["stopped"].startswith("night budget of 1 image reached")
    assert "1 brief left undone: 002-" in (out / "summary.html").read_text()
    r = CliRunner().invoke(app, ["batch", str(briefs), "--out", str(out), "--model", str(shapes_model_dir),
                                 "--steps", "4", "--budget", "3", "--critic", f"scripted:{script}"])
    assert r.exit_code == 0, r.output  # no night budget this time: the rest is done


def test_a_brief_whose_run_folder_is_broken_fails_alone(tmp_path, shapes_engine):
    """A damaged checkpoint (a disk that filled up, say) is that brief's failure, not the night's."""
    from agent.batch.briefs import BatchItem
    from agent.batch.item import RUNS, run_item
    from agent.run_files import RUN_FILE, TREE_FILE, RunInfo
    from agent.spec import RunSpec

    item = BatchItem(index=1, brief=GOOD_A, seed=0)
    run_dir = tmp_path / RUNS / item.key
    run_dir.mkdir(parents=True)
    (run_dir / RUN_FILE).write_text(RunInfo(run_id=item.key, created="2026", spec=RunSpec(brief=GOOD_A)).model_dump_json())
    (run_dir / TREE_FILE).write_text("{}")
    (run_dir / "checkpoint.sqlite").write_bytes(b"not a database" * 100)
    entry = run_item(item, RunSpec(brief="template", budget={"generations": 2}), tmp_path, engine=shapes_engine)
    assert entry["status"] == "failed" and entry["error"]
    assert (run_dir / "checkpoint.sqlite").is_file()  # kept for whoever looks into it
