"""One content fingerprint for model folders: what a record says about the weights it came from.

Configs and small files are hashed in full; large weight files by their size and their first and
last MiB, because hashing gigabytes would make every start slow while a retrained or swapped
checkpoint still changes those bytes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_WHOLE = 2 << 20  # files up to 2 MiB are hashed in full
_EDGE = 1 << 20


def fingerprint(path: str | Path) -> str:
    """``sha256:<16 hex>`` for a folder (every file under it) or a single file."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()
                                                  and not p.name.startswith("."))
    h = hashlib.sha256()
    for p in files:
        rel = p.name if p == root else p.relative_to(root).as_posix()
        size = p.stat().st_size
        h.update(rel.encode())
        h.update(str(size).encode())
        with p.open("rb") as f:
            if p.suffix in (".json", ".txt") or size <= _WHOLE:
                h.update(f.read())
            else:
                h.update(f.read(_EDGE))
                f.seek(-_EDGE, os.SEEK_END)
                h.update(f.read())
    return "sha256:" + h.hexdigest()[:16]
