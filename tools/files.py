"""Files written so that a process killed at any moment never leaves half a file under the real name.

Every file sculpt writes that something later reads back (run.json, tree.json, images, benchmark
results, training checkpoints) goes through here: write beside the target, then rename over it,
which POSIX and Windows both make atomic on one filesystem.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def atomic_save(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then move it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # the writer raised: leave no stray temporary behind
            tmp.unlink()


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step."""
    payload = data.encode() if isinstance(data, str) else data
    atomic_save(path, lambda tmp: tmp.write_bytes(payload))
