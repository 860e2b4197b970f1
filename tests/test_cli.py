"""The command line: exit codes, one-line errors for bad input, resume, chat over stdin."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import sculpt_app

app = sculpt_app()

BRIEF = "a red circle to the left of a blue square, yellow background"


@pytest.fixture
def cli(shapes_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("SCULPT_CONFIG", "SCULPT_MODEL", "SCULPT_CRITIC", "SCULPT_BUDGET"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args: str, input: str | None = None):
        base = ["--model", str(shapes_model_dir), "--steps", "4", "--out", str(tmp_path / "runs")]
        extra = base if args and args[0] == "run" else []
        return CliRunner().invoke(app, [*args, *extra], input=input)

    return invoke


def script(tmp_path, steps: list[dict], name: str = "script.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"critiques": steps}))
    return f"scripted:{path}"


def only_run(tmp_path):
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_accepted_run_exits_0_and_prints_where_things_are(cli, tmp_path):
    r = cli("run", BRIEF, "--critic", script(tmp_path, [{"pass": "all"}]), "-q")
    assert r.exit_code == 0, r.output
    run_dir = only_run(tmp_path)
    assert f"run folder: {run_dir}" in r.output and "report: " in r.output and "best image: " in r.output
    assert "accepted" in r.output and "a red circle" in r.output  # the checklist table


def test_budget_stop_exits_3_with_the_best_image(cli, tmp_path):
    r = cli("run", BRIEF, "--critic", script(tmp_path, [{"fail": ["g0.left_of.g1"]}]), "--budget", "2", "-q")
    assert r.exit_code == 3, r.output
    assert "budget spent: 2 of 2" in r.output and "best image: " in r.output


def test_unreachable_critic_exits_4_and_resume_continues(cli, tmp_path):
    down = script(tmp_path, [{"fail": ["g0.left_of.g1"]}, {"error": "unavailable"}], "down.json")
    r = cli("run", BRIEF, "--critic", down, "-q")
    assert r.exit_code == 4, r.output
    assert "critic unreachable" in r.output and "Traceback" not in r.output
    run_dir = only_run(tmp_path)
    # The same critic, still down: resume says so again and keeps the run.
    r = cli("resume", str(run_dir), "-q")
    assert r.exit_code == 4 and "critic unreachable" in r.output, r.output
    # Back (here: resume points the run at a critic that answers): the run finishes.
    r = cli("resume", str(run_dir), "--critic", script(tmp_path, [{"pass": "all"}], "up.json"), "-q")
    assert r.exit_code == 0, r.output
    assert "accepted" in r.output
    info = json.loads((run_dir / "run.json").read_text())
    assert info["spec"]["critic"].endswith("up.json")


@pytest.mark.parametrize("args,message", [
    (["run", ""], "the brief is empty"),
    (["run", "   "], "the brief is empty"),
    (["run", BRIEF, "--critic", "nope:thing"], "unknown critic spec 'nope:thing'"),
    (["run", BRIEF, "--critic", "scripted:/no/such/script.json"], "does not exist"),
    (["run", BRIEF, "--budget", "0"], "budget.generations: Input should be greater than 0 (got 0)"),
    (["run", BRIEF, "--budget", "-3"], "greater than 0 (got -3)"),
    (["run", "a purple elephant"], "could not read \"elephant\""),
    (["run", BRIEF, "--rewriter", "poet"], "unknown rewriter spec"),
    (["run", BRIEF, "--scheduler", "warp"], "unknown scheduler"),
])
def test_bad_input_exits_2_with_one_line(cli, tmp_path, args, message):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())  # nothing half-made


def test_missing_model_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["run", BRIEF, "--model", str(tmp_path / "no-model"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "neither an existing folder" in r.output


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "not a sculpt run folder"),
    (lambda p: (p.mkdir(), (p / "run.json").write_text("{not json")), "unreadable"),
    (lambda p: (p.mkdir(), (p / "run.json").write_text("{}")), "has no spec"),
    (lambda p: (p.mkdir(), (p / "run.json").write_text('{"run_id": "run", "created": "2026", "spec": {"brief": "b", '
                                                        '"budget": {"images": 3}}}')), "spec.budget.images"),
    (lambda p: (p.mkdir(), (p / "run.json").write_text('{"run_id": "run", "created": "2026", "spec": {"brief": "b"}}')),
     "no checkpoint.sqlite"),
])
def test_unreadable_run_folder_exits_2(tmp_path, setup, message):
    folder = tmp_path / "run"
    setup(folder)
    r = CliRunner().invoke(app, ["resume", str(folder)])
    assert r.exit_code == 2 and message in r.output


def test_chat_over_stdin_records_the_pick(cli, tmp_path, shapes_model_dir):
    steps = [{"fail": ["g0.object"]}, {"fail": ["g1.object"]}, {"fail": ["g0.object"]},
             {"fail": ["background"]}, {"pass": "all"}]
    answers = "\n".join(["", "pick n2", "a"]) + "\n"  # continue, pick the critic's second, accept
    r = CliRunner().invoke(app, ["chat", BRIEF, "--critic", script(tmp_path, steps), "--model", str(shapes_model_dir),
                                 "--out", str(tmp_path / "runs"), "-q"], input=answers)
    assert r.exit_code == 0, r.output
    picks = [json.loads(line) for line in (only_run(tmp_path) / "picks.jsonl").read_text().splitlines()]
    assert len(picks) == 1 and picks[0]["node_ids"]["chosen"] == "n2"


def test_chat_input_ending_leaves_the_question_open_for_resume(tmp_path, shapes_model_dir):
    steps = [{"fail": ["g0.object"]}, {"fail": ["g0.object"]}, {"pass": "all"}, {"fail": ["g1.object"]}]
    common = ["--model", str(shapes_model_dir), "-q"]
    r = CliRunner().invoke(app, ["chat", BRIEF, "--critic", script(tmp_path, steps), "--out", str(tmp_path / "runs"),
                                 *common], input="v\n")  # vary, then the input ends
    assert r.exit_code == 3 and "sculpt chat --resume" in r.output, r.output
    run = only_run(tmp_path)
    assert not (run / "picks.jsonl").exists()
    later = script(tmp_path, [{"pass": "all"}], name="later.json")  # another critic from here on
    r = CliRunner().invoke(app, ["chat", "--resume", str(run), "--critic", later, *common], input="p n3\na\n")
    assert r.exit_code == 0, r.output
    pick = json.loads((run / "picks.jsonl").read_text())
    assert pick["node_ids"]["chosen"] == "n3"
    assert json.loads((run / "run.json").read_text())["spec"]["critic"] == later


@pytest.mark.parametrize("edit,message", [
    (lambda spec: spec.update(sharpness=3), "unknown key 'spec.sharpness'"),
    (lambda spec: spec["budget"].update(generations=-1), "spec.budget.generations: Input should be greater than 0"),
    (lambda spec: spec["policy"].update(retires=2), "unknown key 'spec.policy.retires'"),
])
def test_a_bad_or_unknown_key_in_run_json_is_named(cli, tmp_path, edit, message):
    r = cli("run", BRIEF, "--critic", script(tmp_path, [{"fail": ["g0.left_of.g1"]}]), "--budget", "1", "-q")
    assert r.exit_code == 3, r.output
    run_dir = only_run(tmp_path)
    info = json.loads((run_dir / "run.json").read_text())
    edit(info["spec"])
    (run_dir / "run.json").write_text(json.dumps(info))
    r = cli("resume", str(run_dir), "--budget", "2", "-q")
    assert r.exit_code == 2 and message in r.output and "run.json" in r.output, r.output


def test_importing_the_agent_does_not_import_the_evals():
    import subprocess
    import sys

    code = ("import sys, agent, agent.cli, agent.lifecycle, agent.graph, agent.batch.serial; "
            "print(sorted(m for m in sys.modules if m == 'evals' or m.startswith('evals.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_resume_refuses_a_run_someone_else_is_running(cli, tmp_path):
    from agent.locks import Lock, run_folder_lock

    r = cli("run", BRIEF, "--critic", script(tmp_path, [{"fail": ["g0.left_of.g1"]}]), "--budget", "1", "-q")
    run_dir = only_run(tmp_path)
    with Lock(run_folder_lock(run_dir), what="batch worker 'w1'"):
        r = cli("resume", str(run_dir), "--budget", "2", "-q")
        assert r.exit_code == 2 and "held by batch worker 'w1'" in r.output, r.output
    r = cli("resume", str(run_dir), "--budget", "2", "-q")  # free again: it carries on
    assert r.exit_code == 3 and "budget spent: 2 of 2" in r.output, r.output
    assert not run_folder_lock(run_dir).exists()


def test_a_misspelt_key_in_sculpt_toml_is_named_and_the_policy_table_reaches_the_run(cli, tmp_path):
    (tmp_path / "sculpt.toml").write_text("budgte = 3\n")  # cwd is tmp_path
    r = cli("run", BRIEF, "-q")
    assert r.exit_code == 2 and "unknown key 'budgte'" in r.output and "sculpt.toml" in r.output, r.output
    assert not (tmp_path / "runs").exists()
    (tmp_path / "sculpt.toml").write_text("budget = 1\n[policy]\nretires = 2\n")
    r = cli("run", BRIEF, "-q")
    assert r.exit_code == 2 and "unknown key 'policy.retires'" in r.output, r.output
    (tmp_path / "sculpt.toml").write_text("budget = 1\n[policy]\nretries = 2\nedits_per_node = 4\n")
    r = cli("run", BRIEF, "--critic", script(tmp_path, [{"fail": ["g0.object"]}]), "-q")
    assert r.exit_code == 3, r.output
    policy = json.loads((only_run(tmp_path) / "run.json").read_text())["spec"]["policy"]
    assert (policy["retries"], policy["edits_per_node"]) == (2, 4)


def test_a_run_from_your_picture_keeps_to_it_unless_you_allow_fresh_images(cli, tmp_path):
    """Autonomously too: nothing of the brief holds on a white picture, where the agent alone would
    start afresh; from the person's picture it rebuilds the picture instead."""
    from PIL import Image

    picture = tmp_path / "mine.png"
    Image.new("RGB", (256, 256), "white").save(picture)
    r = cli("run", BRIEF, "--image", str(picture), "--budget", "3", "-q")
    assert r.exit_code in (0, 3), r.output
    run_dir = only_run(tmp_path)
    tree = json.loads((run_dir / "tree.json").read_text())
    nodes = tree["nodes"]
    made = [n for n in nodes.values() if n.get("action")]
    assert made and all(n["action"]["kind"] != "txt2img" for n in made)
    lineage, node = [], tree["best"]
    while node:
        lineage.append(node)
        node = nodes[node].get("parent")
    assert lineage[-1] == "root" and nodes["root"]["image"]  # the answer descends from the picture
    assert json.loads((run_dir / "run.json").read_text())["spec"]["policy"]["allow_fresh"] is False
    r = cli("run", BRIEF, "--image", str(picture), "--budget", "1", "--allow-fresh", "-q")
    assert r.exit_code in (0, 3), r.output
    fresh = next(d for d in (tmp_path / "runs").iterdir() if d != run_dir)
    assert json.loads((fresh / "run.json").read_text())["spec"]["policy"]["allow_fresh"] is True
    assert json.loads((fresh / "tree.json").read_text())["nodes"]["n1"]["action"]["kind"] == "txt2img"


def test_a_chat_region_that_contradicts_the_brief_changes_it_in_the_terminal(cli, tmp_path, shapes_model_dir):
    # n1 passes all but the red circle; the repaint the person asks for loses the blue square and the
    # relation (the script says so), and passes the brief as they changed it.
    steps = [{"fail": ["g0.object"]}, {"fail": ["g1.object", "g0.left_of.g1"]}, {"pass": "all"},
             {"fail": ["g1.object@1"]}]  # n1 again, once the person goes back to it: no green circle there
    answers = "r 0.6 0.2 0.9 0.5 a green circle\nb n1\nb n2\na\n"
    r = CliRunner().invoke(app, ["chat", BRIEF, "--critic", script(tmp_path, steps), "--model", str(shapes_model_dir),
                                 "--out", str(tmp_path / "runs")], input=answers)
    assert r.exit_code == 0, r.output
    assert "the brief changes with you: “a blue square” → “a green circle”" in r.output
    assert "g1.object" not in r.output and "g0.left_of" not in r.output  # the terminal speaks in words
    tree = json.loads((only_run(tmp_path) / "tree.json").read_text())
    assert [c["text"] for c in tree["checklist"] if c.get("amended_by") == "person"] == [
        "a green circle", "the red circle is left of the green circle"]
    assert tree["nodes"]["n2"]["amendment"]["by"] == "person" and tree["best"] == "n2"
    # Going back to n1, made before the change, judges it again against the brief as it now stands.
    assert "n1 judged again, against the brief as you changed it" in r.output
    assert tree["nodes"]["n1"]["judged_on"] == 1 and "g1.object@1" in tree["nodes"]["n1"]["critique"]["failed"]


def test_a_chat_edit_that_lost_a_requirement_asks_and_keep_lets_it_go(cli, tmp_path, shapes_model_dir):
    # The person leaves the words to the agent; its repaint loses the blue square (the script says so).
    steps = [{"fail": ["g0.object"]}, {"fail": ["g1.object"]}, {"pass": "all"}]
    r = CliRunner().invoke(app, ["chat", BRIEF, "--critic", script(tmp_path, steps), "--model", str(shapes_model_dir),
                                 "--out", str(tmp_path / "runs")], input="r 0.6 0.2 0.9 0.5\nk\na\n")
    assert r.exit_code == 0, r.output
    assert "keep “a blue square”?" in r.output and "Answer k (keep your change) or kb (keep the brief)" in r.output
    assert "“a blue square” dropped" in r.output and "“the red circle is left of the blue square” dropped" in r.output
    tree = json.loads((only_run(tmp_path) / "tree.json").read_text())
    assert [c["text"] for c in tree["checklist"]] == ["a red circle", "yellow background"]
    assert tree["nodes"]["n2"]["scene_prompt"] == "a red circle, yellow background" and tree["best"] == "n2"
