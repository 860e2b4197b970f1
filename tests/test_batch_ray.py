"""`sculpt batch` on Ray: one local Ray instance (4 logical CPUs on this machine's cores) and one
pool of 2 workers shared by the tests here, since starting Ray and loading an engine per worker is
most of their cost. The briefs are the shipped shapes model's at 4 steps, each with its own seed;
a serial batch of the same file is the reference every Ray batch must match image for image.

Workers are killed for real (SIGKILL to the process holding a brief's lock), and so is a driver
(a `sculpt batch --ray ADDRESS` subprocess joined to the same instance)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

ray = pytest.importorskip("ray")

from agent.batch.distributed import run_batch_on_ray
from agent.locks import Lock, read_holder
from agent.batch.night import NightBudget
from agent.batch.pool import WorkerPool
from agent.batch.serial import run_batch
from agent.spec import RunSpec
from tests.test_resume_kill import check_consistent

pytestmark = pytest.mark.slow

BRIEFS = [  # (brief, seed): two are accepted after a few images, two use the whole budget of 4
    ("a red circle to the left of a blue square, yellow background", 5),
    ("two green triangles above a purple diamond, white background", 7),  # 4 images: killed mid-brief
    ("an orange square below a black circle, blue background", 11),
    ("three small red circles, white background", 2),  # 4 images: kills two workers
]
LONG = "002"  # its key's prefix in the file below (the invalid line is 003)


def briefs_file(path: Path, briefs=BRIEFS, invalid: bool = True) -> Path:
    lines = [json.dumps({"brief": b, "seed": s}) for b, s in briefs]
    if invalid:
        lines.insert(2, ", ,")  # a brief the shapes world cannot read: recorded, the night goes on
    path.write_text("\n".join(lines) + "\n")
    return path


def key(manifest: dict, prefix: str) -> str:
    return next(k for k in manifest["items"] if k.startswith(prefix))


def images(out: Path, k: str) -> list[str]:
    return sorted(p.name for p in (out / "runs" / k / "images").glob("*.png"))


def same_as_reference(out: Path, manifest: dict, reference: tuple[Path, dict], skip: tuple[str, ...] = ()) -> None:
    ref_out, ref = reference
    for k, want in ref["items"].items():
        if k[:3] in skip or k not in manifest["items"]:
            continue
        got = manifest["items"][k]
        assert (got["status"], got.get("generations"), got.get("best_image")) == \
               (want["status"], want.get("generations"), want.get("best_image")), k
        if want["status"] != "invalid":
            assert images(out, k) == images(ref_out, k), k
            check_consistent(out / "runs" / k)
    assert not list((out / "runs").glob("*.lock")), "a lock was left behind"


@pytest.fixture(scope="module")
def template(shapes_model_dir) -> RunSpec:
    return RunSpec(brief="-", model=str(shapes_model_dir), budget={"generations": 4}, generation={"steps": 4})


@pytest.fixture(scope="module")
def reference(template, tmp_path_factory) -> tuple[Path, dict]:
    """The same briefs, serially in this process, with one torch thread like each worker here: on
    CPUs, how many threads an engine uses changes the last bits of its sums, and so its images."""
    import torch

    tmp, threads = tmp_path_factory.mktemp("serial"), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return tmp / "night", run_batch(briefs_file(tmp / "briefs.txt"), tmp / "night", template)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=4, include_dashboard=False, object_store_memory=128 * 2**20, log_to_driver=False,
             logging_level="error")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def pool(cluster, template):
    workers = WorkerPool(template, 2, cpus=1, gpus=0)
    yield workers
    workers.close()


def kill_holder(out: Path, k: str, *, after_images: int = 0, not_pid: int | None = None,
                timeout=180) -> tuple[int, str]:
    """SIGKILL the process that holds brief ``k``'s lock once it has made ``after_images`` images;
    frozen first (SIGSTOP), so the brief is known to be unfinished when it dies. Returns its pid and
    the worker its lock names."""
    lock, run = out / "runs" / f"{k}.lock", out / "runs" / k
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = read_holder(lock)
        pid = (seen or ({}, 0))[0].get("pid")
        events = (run / "events.jsonl").read_text() if (run / "events.jsonl").exists() else ""
        if pid and pid != not_pid and events.count('"node": "generate"') >= after_images:
            os.kill(pid, signal.SIGSTOP)
            tree = json.loads((run / "tree.json").read_text()) if (run / "tree.json").exists() else {}
            still = (read_holder(lock) or ({}, 0))[0].get("pid") == pid
            if still and tree.get("status") in (None, "running"):  # None: written before its first step
                os.kill(pid, signal.SIGKILL)
                return pid, re.search(r"'(.+)'", seen[0]["what"]).group(1)  # "batch worker 'w2'"
            # Between reading the lock and freezing it, the holder finished the brief (or let it go):
            # never leave a process frozen; wait for the next holder.
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError(f"{k} never ran unfinished long enough to be killed")


def test_two_workers_match_the_serial_batch_image_for_image(pool, template, reference, tmp_path):
    out = tmp_path / "night"
    manifest = run_batch_on_ray(briefs_file(tmp_path / "briefs.txt"), out, template, pool)
    statuses = [e["status"] for e in manifest["items"].values()]
    assert len(statuses) == 5 and statuses.count("invalid") == 1, statuses
    assert "could not read" in manifest["items"][key(manifest, "003")]["error"]
    assert {e.get("worker") for e in manifest["items"].values()} == {"w1", "w2"}  # both took briefs
    same_as_reference(out, manifest, reference)
    html = (out / "summary.html").read_text()
    assert html.count('class="card ') == 5 and "Workers" in html
    with Image.open(out / "summary.png") as sheet:  # the contact sheet: one framed thumbnail per brief
        assert sheet.size[0] >= 5 * 64 and len(set(sheet.convert("RGB").getdata())) > 16


def test_a_killed_worker_restarts_and_its_brief_resumes(pool, template, reference, tmp_path):
    out = tmp_path / "night"
    briefs = briefs_file(tmp_path / "briefs.txt")
    with ThreadPoolExecutor(1) as ex:
        night = ex.submit(run_batch_on_ray, briefs, out, template, pool)
        k = _wait_for(lambda: run_folder(out, LONG), 120)
        _, killed = kill_holder(out, k, after_images=1)
        manifest = night.result(timeout=300)
    entry = manifest["items"][k]
    assert killed in ("w1", "w2") and [a["worker"] for a in entry["attempts"]] == [killed]
    same_as_reference(out, manifest, reference)  # the killed brief included: resumed, not redone


def test_a_brief_that_kills_two_workers_fails_and_the_night_goes_on(pool, template, tmp_path):
    out = tmp_path / "night"
    briefs = briefs_file(tmp_path / "briefs.txt", [BRIEFS[3], BRIEFS[0], BRIEFS[2]], invalid=False)
    with ThreadPoolExecutor(1) as ex:
        night = ex.submit(run_batch_on_ray, briefs, out, template, pool)
        k = _wait_for(lambda: run_folder(out, "001"), 120)
        first, _ = kill_holder(out, k)
        kill_holder(out, k, not_pid=first)  # the restarted worker, or the other one, took it over
        manifest = night.result(timeout=300)
    entry = manifest["items"][k]
    assert entry["status"] == "failed" and "2 workers died" in entry["error"], entry
    assert [e["status"] for e in manifest["items"].values()].count("failed") == 1
    assert all(e["status"] in ("accepted", "budget") for kk, e in manifest["items"].items() if kk != k)


def test_a_brief_someone_else_runs_waits_for_its_lock(pool, template, tmp_path):
    """A worker of a killed driver still finishing the brief, say: never two at once."""
    out = tmp_path / "night"
    briefs = briefs_file(tmp_path / "briefs.txt", [BRIEFS[0], BRIEFS[2]], invalid=False)
    held = Lock(out / "runs" / "001-a-red-circle-to-the-left-of-a-blue-squar.lock", what="a dying worker")
    held.acquire()
    with ThreadPoolExecutor(1) as ex:
        night = ex.submit(run_batch_on_ray, briefs, out, template, pool)
        _wait_for(lambda: (out / "batch.json").exists() and "a dying worker" in
                  json.dumps(json.loads((out / "batch.json").read_text())["items"]), 120)
        assert not run_folder(out, "001"), "started while someone else held it"
        held.release()
        manifest = night.result(timeout=120)
    assert [e["status"] for e in manifest["items"].values()] == ["accepted", "accepted"]


def test_a_night_budget_stops_dispatch_and_the_report_says_what_was_left(pool, template, tmp_path):
    out = tmp_path / "night"
    briefs = briefs_file(tmp_path / "briefs.txt", invalid=False)
    manifest = run_batch_on_ray(briefs, out, template, pool, night=NightBudget(images=3))
    assert "night budget of 3 images" in manifest["night"]["stopped"]
    started = manifest["items"]
    assert 2 <= len(started) < 4 and all(e["status"] in ("accepted", "budget") for e in started.values())
    html = (out / "summary.html").read_text()
    assert "left undone" in html and "004-three-small-red-circles" in html  # the last never started
    assert "night budget of 3 images" in (out / "summary.md").read_text()


def test_an_unreachable_critic_pauses_the_night_and_a_rerun_resumes(pool, template, tmp_path):
    script = tmp_path / "critic.json"
    script.write_text(json.dumps({"critiques": [{"fail": ["background"]}, {"error": "unavailable"}]}))
    scripted = RunSpec.model_validate({**template.to_json(), "critic": f"scripted:{script}"})
    out, briefs = tmp_path / "night", briefs_file(tmp_path / "briefs.txt", BRIEFS[:3], invalid=False)
    manifest = run_batch_on_ray(briefs, out, scripted, pool)
    paused = [e["status"] for e in manifest["items"].values()]
    assert paused in (["critic_unavailable"], ["critic_unavailable"] * 2)  # on 1 or 2 workers; the third waits
    assert "critic could not be reached" in manifest["night"]["stopped"]
    script.write_text(json.dumps({"critiques": [{"pass": "all"}]}))  # the server is back
    manifest = run_batch_on_ray(briefs, out, scripted, pool)
    assert [e["status"] for e in manifest["items"].values()] == ["accepted"] * 3
    assert "stopped" not in manifest["night"]
    assert all(e["generations"] >= 2 for k, e in manifest["items"].items() if not k.startswith("003"))


def test_a_killed_driver_is_rerun_without_duplicates_or_losses(cluster, shapes_model_dir, reference, tmp_path):
    out, briefs = tmp_path / "night", briefs_file(tmp_path / "briefs.txt")
    cmd = [sys.executable, "-m", "agent.cli", "batch", str(briefs), "--out", str(out), "--model",
           str(shapes_model_dir), "--steps", "4", "--budget", "4", "--ray", cluster, "--workers", "2",
           "--cpus-per-worker", "1"]
    # The instance this module started uses token authentication (Ray's default for new clusters);
    # a driver joining it by address is told so, as a person joining a cluster would be.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}  # RAY_AUTH_MODE, set by ray.init
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finished = ("accepted", "budget", "invalid")
    _wait_for(lambda: (out / "batch.json").exists() and any(
        e["status"] in finished for e in json.loads((out / "batch.json").read_text())["items"].values()), 240)
    assert driver.poll() is None, "the batch ended before its driver could be killed"
    driver.kill()
    driver.wait()
    before = json.loads((out / "batch.json").read_text())["items"]
    assert any(e["status"] not in finished for e in before.values()) or len(before) < 5, "nothing left to resume"
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 3, rerun.stdout + rerun.stderr  # the invalid brief: not everything accepted
    manifest = json.loads((out / "batch.json").read_text())
    for k, e in before.items():
        if e["status"] in finished:  # skipped, not run again
            assert manifest["items"][k]["started"] == e["started"], k
    same_as_reference(out, manifest, reference)


def run_folder(out: Path, prefix: str) -> str | None:
    return next((p.name for p in (out / "runs").glob(f"{prefix}-*") if p.is_dir()), None)


def _wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_when_rays_node_dies_the_night_ends_with_its_own_exit_code_and_a_clean_terminal(shapes_model_dir,
                                                                                       tmp_path):
    """Kill the raylet of a night's own Ray (what a machine that dies does to it): every worker goes
    with it; the command says so, with what a person does next, in exit code 5 — not the critic's 4 —
    and what Ray printed meanwhile is in ray.log, not torn through the live table."""
    import psutil

    out, briefs = tmp_path / "night", briefs_file(tmp_path / "briefs.txt", BRIEFS[:3] * 15, invalid=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    driver = subprocess.Popen([sys.executable, "-m", "agent.cli", "batch", str(briefs), "--out", str(out), "--model",
                               str(shapes_model_dir), "--steps", "20", "--workers", "2"],
                              env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    _wait_for(lambda: (out / "batch.json").exists() and '"running"' in (out / "batch.json").read_text(), 240)
    (raylet,) = [p for p in psutil.Process(driver.pid).children(recursive=True) if p.name() == "raylet"]
    raylet.kill()
    stdout, stderr = driver.communicate(timeout=180)
    assert driver.returncode == 5, stderr
    assert "Ray's node on" in stderr and "Run the same command again" in stderr, stderr
    assert "(raylet)" not in stdout + stderr and "(raylet)" in (out / "ray.log").read_text()
    done = json.loads((out / "batch.json").read_text())["items"]
    assert [e["status"] for e in done.values()].count("running") <= 2  # what ran is resumable, nothing lost
    assert all((out / "runs" / k / "run.json").is_file() for k in done)
