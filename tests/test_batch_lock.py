"""The per-run-folder lock: one holder at a time, a dead holder's lock is taken over (at once on
the same host, after the lease elsewhere), a live holder's never, and two takers never both win."""
from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time

import pytest

from agent.locks import Busy, Lock, is_stale, read_holder


def fake_lock(path, **fields) -> None:
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": "theirs", **fields}))


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_one_holder_at_a_time_and_release_frees_it(tmp_path):
    path = tmp_path / "001.lock"
    with Lock(path, what="worker 1") as lock:
        holder, _ = read_holder(path)
        assert holder["pid"] == os.getpid() and holder["what"] == "worker 1" and lock.holds()
        with pytest.raises(Busy, match="worker 1"):
            Lock(path).acquire()  # the same process counts too: a lock is per holder, not per pid
    assert not path.exists()
    with Lock(path):
        pass


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path):
    path = tmp_path / "001.lock"
    fake_lock(path, pid=dead_pid())
    with Lock(path) as lock:
        assert lock.holds()


def test_a_recycled_pid_does_not_keep_a_lock(tmp_path):
    if not os.path.isdir("/proc"):
        pytest.skip("process start times come from /proc")
    path = tmp_path / "001.lock"
    fake_lock(path, pid=os.getpid(), pid_start="1")  # this pid, but a process that started at boot
    with Lock(path) as lock:
        assert lock.holds()


def test_another_hosts_lock_holds_until_its_lease_runs_out(tmp_path):
    path = tmp_path / "001.lock"
    fake_lock(path, host="elsewhere", pid=1)
    with pytest.raises(Busy, match="elsewhere"):
        Lock(path).acquire()
    old = time.time() - 120
    os.utime(path, (old, old))
    assert is_stale(*read_holder(path), lease=60)
    with Lock(path, lease=60) as lock:
        assert lock.holds()


def test_a_half_written_lock_is_judged_by_its_age(tmp_path):
    path = tmp_path / "001.lock"
    path.write_text('{"host": "elsewh')
    with pytest.raises(Busy):
        Lock(path).acquire()
    old = time.time() - 120
    os.utime(path, (old, old))
    with Lock(path):
        pass


def test_the_heartbeat_keeps_a_live_lock_fresh_and_notices_a_takeover(tmp_path):
    path = tmp_path / "001.lock"
    lock = Lock(path, lease=0.4)
    lock.acquire()
    old = time.time() - 100
    os.utime(path, (old, old))
    time.sleep(0.3)  # a beat every lease / 4
    assert time.time() - path.stat().st_mtime < 0.4
    fake_lock(path, host="elsewhere")  # someone broke it meanwhile (it looked stale to them)
    time.sleep(0.3)
    assert lock.lost
    lock.release()
    assert read_holder(path)[0]["token"] == "theirs"  # never removes a lock that is not its own


def _race(path, barrier, wins) -> None:
    barrier.wait()
    try:
        lock = Lock(path)
        lock.acquire()
    except Busy:
        return
    wins.put(os.getpid())
    time.sleep(0.5)  # hold it while the others try
    lock.release()


def test_takers_racing_for_a_stale_lock_never_both_win(tmp_path):
    path = tmp_path / "001.lock"
    ctx = multiprocessing.get_context("fork")
    for _ in range(3):
        fake_lock(path, pid=dead_pid())
        barrier, wins = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_race, args=(path, barrier, wins)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=30)
        winners = []
        while not wins.empty():
            winners.append(wins.get())
        assert len(winners) == 1, winners
        assert not path.exists()
