"""The run lifecycle owns a run: its lock (held while it advances, given up when another process
took it over), resuming versus starting afresh, and what may not be re-opened."""
from __future__ import annotations

import json
import os

import pytest

from agent.critics.scripted import ScriptedCritic
from agent.lifecycle import LockLost, Run
from agent.locks import Busy, Lock, run_folder_lock
from agent.spec import RunSpec
from tools.errors import InputError

BRIEF = "a red circle to the left of a blue square, yellow background"
TRUSTING = {"confirm_accept": False, "confirm_failure": False}


def spec(budget=3, **kw) -> RunSpec:
    return RunSpec(brief=BRIEF, budget={"generations": budget}, policy=TRUSTING, **kw)


def failing() -> ScriptedCritic:
    return ScriptedCritic({"critiques": [{"fail": ["g1.object"]}]})  # never satisfied: spends its budget


def events(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_a_budget_not_above_the_images_made_is_refused_and_nothing_changes(tmp_path, shapes_engine):
    res = Run.start(spec(3), tmp_path, engine=shapes_engine, critic=failing()).advance()
    assert res.state["spend"]["generations"] == 3
    before = {n: (res.run_dir / n).read_bytes() for n in ("run.json", "tree.json")}
    for budget in (2, 3):
        with pytest.raises(InputError, match=f"made 3 images already: give it a budget above 3 .*got {budget}"):
            Run.open(res.run_dir, engine=shapes_engine, critic=failing(), budget=budget)
    assert {n: (res.run_dir / n).read_bytes() for n in before} == before
    with Run.open(res.run_dir, engine=shapes_engine, critic=failing(), budget=4) as run:
        assert run.advance().state["spend"]["generations"] == 4


def test_the_same_run_started_twice_in_one_second_gets_two_folders(tmp_path, shapes_engine, monkeypatch):
    import agent.lifecycle.run_ids as run_ids

    monkeypatch.setattr(run_ids, "run_id_for", lambda spec: "20261203-120000-abcdef")  # one second
    first = Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing())
    second = Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing())
    third = Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing())
    assert [r.store.root.name for r in (first, second, third)] == [
        "20261203-120000-abcdef", "20261203-120000-abcdef-2", "20261203-120000-abcdef-3"]
    # A name given explicitly is still refused when taken: nothing of the first run is touched.
    with pytest.raises(InputError, match="already exists"):
        Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing(), run_id="20261203-120000-abcdef")


def test_the_cli_refuses_a_lower_budget_with_exit_2(tmp_path, shapes_engine, shapes_model_dir):
    from typer.testing import CliRunner

    from agent.cli import app

    res = Run.start(spec(3, model=str(shapes_model_dir)), tmp_path, engine=shapes_engine, critic=failing()).advance()
    tree = (res.run_dir / "tree.json").read_text()
    r = CliRunner().invoke(app, ["resume", str(res.run_dir), "--budget", "2"])
    assert r.exit_code == 2 and "made 3 images already" in r.output, r.output
    assert (res.run_dir / "tree.json").read_text() == tree and json.loads(tree)["budget"]["generations"] == 3


def test_a_run_holds_its_lock_only_while_it_advances(tmp_path, shapes_engine):
    seen = []

    def on_event(event):
        if event.node == "generate":
            seen.append(json.loads(run_folder_lock(run.store.root).read_text())["what"])

    run = Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing(), holder="a test", on_event=on_event)
    assert not run_folder_lock(run.store.root).exists()
    run.advance()
    assert seen == ["a test"] and not run_folder_lock(run.store.root).exists()
    with Lock(run_folder_lock(run.store.root), what="someone else"):
        with pytest.raises(Busy, match="someone else"):
            run.advance({"action": "continue"})


def test_a_holder_whose_lock_was_broken_stops_at_the_next_step(tmp_path, shapes_engine):
    """Another process judged the lock stale and took it over: this one must not write beside it."""
    lock_file = run_folder_lock(tmp_path / "r1")

    def take_over(event):
        if event.node == "generate" and not lock_file.with_suffix(".taken").exists():
            theirs = lock_file.with_suffix(".taken")
            theirs.write_text(json.dumps({"host": "elsewhere", "pid": 1, "what": "another sculpt", "token": "t"}))
            os.replace(theirs, lock_file)  # what a taker does: its own lock file in place of ours
            lock_file.with_suffix(".taken").write_text("")

    run = Run.start(spec(3), tmp_path, engine=shapes_engine, critic=failing(), run_id="r1", on_event=take_over)
    with pytest.raises(LockLost, match="another sculpt"):
        run.advance()
    nodes = [e["node"] for e in events(run.store.root)]
    assert nodes[-1] == "generate" and "critique" not in nodes  # the step in flight finished; no next one
    assert json.loads(lock_file.read_text())["what"] == "another sculpt"  # theirs, left alone
    lock_file.unlink()  # the other process is done
    with Run.open(run.store.root, engine=shapes_engine, critic=failing()) as again:
        assert again.advance().state["spend"]["generations"] == 3  # resumed from the last completed step


def test_resume_or_start_resumes_from_the_checkpoint_and_restarts_an_unstarted_folder(tmp_path, shapes_engine):
    first = Run.resume_or_start(spec(2), tmp_path, run_id="b1", holder="worker 1", engine=shapes_engine,
                                critic=failing())
    with first:
        assert run_folder_lock(first.store.root).exists()  # held while open
        first.advance()
    made = json.loads((tmp_path / "b1" / "tree.json").read_text())["spend"]["generations"]
    with Run.resume_or_start(spec(2), tmp_path, run_id="b1", holder="worker 2", engine=shapes_engine,
                             critic=failing()) as again:
        assert again.result().state["spend"]["generations"] == made == 2  # resumed, not redone
    # A folder killed before its first step (run.json, no checkpoint step): started afresh.
    Run.start(spec(2), tmp_path, engine=shapes_engine, critic=failing(), run_id="b2").close()
    with Run.resume_or_start(spec(2), tmp_path, run_id="b2", holder="worker 1", engine=shapes_engine,
                             critic=failing()) as fresh:
        assert fresh.advance().state["spend"]["generations"] == 2
    with Lock(run_folder_lock(tmp_path / "b3"), what="worker 9"), pytest.raises(Busy, match="worker 9"):
        Run.resume_or_start(spec(2), tmp_path, run_id="b3", holder="worker 1", engine=shapes_engine)
    assert not (tmp_path / "b3").exists()


def test_a_finished_run_takes_only_answers_that_continue_it(tmp_path, shapes_engine):
    run = Run.start(spec(1), tmp_path, engine=shapes_engine, critic=failing())
    run.advance()
    for answer in ({"action": "accept"}, {"action": "vary"}):
        with pytest.raises(InputError, match="this run has ended"):
            run.check_answer(answer)
    run.check_answer({"action": "continue"})
    run.check_answer({"action": "branch", "node": "n1"})
