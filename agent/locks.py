"""A lock per run folder (and one per batch folder), so nothing runs twice at once: not in two
workers of one batch, not in a rerun while the killed driver's workers are still dying, not on two
machines that share ``--out``, not in a ``sculpt resume`` of a folder a batch is running.

A lock is a small JSON file (who holds it: host, pid, when) made with ``O_CREAT | O_EXCL``, which
is atomic on local disks and on NFSv3 and later. Not ``fcntl``/``flock``: they would free
themselves when the holder dies, but on shared filesystems they depend on a lock daemon (NFS) or
silently do nothing (many FUSE mounts), and a POSIX lock is dropped when its process closes *any*
descriptor of the file. What a dead holder leaves behind is handled instead by:

- its pid: on the same host, a lock whose process is gone (or is another process now) is stale at
  once, so a killed worker's brief can be taken over without waiting;
- a lease: the holder touches the file every ``lease / 4`` seconds from a thread; a lock not
  touched for ``lease`` seconds is stale wherever it was taken (a machine that died). Clocks of the
  machines must agree to well within the lease (NTP does).

A stale lock is broken by renaming it to a name only this taker uses and checking that what it
renamed is the lock it judged stale, so two takers cannot both break it and both win.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from tools.errors import InputError

LEASE = 60.0  # seconds; a lock nobody touched for this long is stale


class Busy(InputError):
    """Someone else holds the lock (a live process, or one whose lease has not run out yet)."""

    def __init__(self, message: str, holder: dict):
        super().__init__(message)
        self.holder = holder


def _start_time(pid: int) -> str | None:
    """When a process started (Linux: ticks since boot), to tell a recycled pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return None if fields[0] == "Z" else fields[19]  # a zombie has finished running


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but alive
        pass
    if Path("/proc").is_dir():
        now = _start_time(pid)
        return now is not None and (start is None or now == start)
    return True


def read_holder(path: Path) -> tuple[dict, float] | None:
    """(what the lock file says, when it was last touched), or None when there is no lock."""
    try:
        text, touched = Path(path).read_text(), Path(path).stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        return json.loads(text), touched
    except json.JSONDecodeError:  # a lock half-written by a killed process: its age decides
        return {}, touched


def is_stale(holder: dict, touched: float, lease: float = LEASE) -> bool:
    if time.time() - touched > lease:
        return True
    if holder.get("host") == socket.gethostname() and "pid" in holder:
        return not _alive(int(holder["pid"]), holder.get("pid_start"))
    return False


def describe(holder: dict) -> str:
    return f"{holder.get('what') or 'a process'} (pid {holder.get('pid', '?')} on {holder.get('host', '?')})"


class Lock:
    """``with Lock(path, what="worker 2"):`` holds ``path`` or raises :class:`Busy`."""

    def __init__(self, path: Path, *, what: str = "", lease: float = LEASE):
        self.path, self.lease = Path(path), lease
        self.token = uuid.uuid4().hex
        pid = os.getpid()
        self.info = {"host": socket.gethostname(), "pid": pid, "pid_start": _start_time(pid), "what": what,
                     "token": self.token, "since": time.time()}
        self.lost = False  # set when the heartbeat finds someone else's lock in its place
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a stale lock broken by us, or by someone else meanwhile: try again
            if self._create():
                self._beat = threading.Thread(target=self._heartbeat, name=f"lock {self.path.name}", daemon=True)
                self._beat.start()
                return
            seen = read_holder(self.path)
            if seen is not None and not is_stale(*seen, lease=self.lease):
                raise Busy(f"{self.path.stem} is held by {describe(seen[0])}", seen[0])
            if seen is not None:
                self._break(seen[0])
        raise Busy(f"{self.path.stem} is being taken over by someone else", {})

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.info))
        return True

    def _break(self, stale: dict) -> None:
        aside = self.path.with_name(f".{self.path.name}.{self.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # someone else broke it first
        moved = read_holder(aside)
        if moved is not None and moved[0].get("token") != stale.get("token"):
            # Between our look and our rename, someone else took it over: put theirs back.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease / 4):
            if not self.holds():
                self.lost = True
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                self.lost = True
                return

    def holds(self) -> bool:
        seen = read_holder(self.path)
        return seen is not None and seen[0].get("token") == self.token

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self.holds():  # never remove a lock someone else took over
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Lock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def run_folder_lock(run_dir: Path) -> Path:
    """The lock of a run folder: beside it, not inside (a brief never planned leaves no folder)."""
    run_dir = Path(run_dir)
    return run_dir.parent / f"{run_dir.name}.lock"
