"""The judgement cache: one SQLite row per (critic, prompt version, prompt, images, order).

Every finished judgement is committed at once, so a killed evaluation loses only the calls that
were in flight, and a rerun with the same critic and data makes no model calls at all. Parse
failures are cached too (they are the critic's answer); unreachable critics are not.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from evals.critic_eval.errors import CriticEvalError

SCHEMA_VERSION = 1


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def judgement_key(critic_id: str, prompt_version: str | None, prompt: str, first: str, second: str) -> str:
    """``first`` and ``second`` are content hashes in presentation order: the order is part of the key."""
    return _hash("judge", critic_id, prompt_version or "", prompt, first, second)


def plan_key(critic_id: str, prompt_version: str | None, prompt: str) -> str:
    return _hash("plan", critic_id, prompt_version or "", prompt)


class JudgementCache:
    """A thread-safe key -> JSON store. ``path=None`` keeps it in memory (no resuming)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        try:
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", check_same_thread=False,
                                       isolation_level=None)
            if self.path:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, critic TEXT, "
                             "value TEXT NOT NULL, created REAL)")
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise CriticEvalError(f"judgement cache {self.path} has schema {row[0]}, this version writes "
                                      f"{SCHEMA_VERSION}; use another --cache file")
        except sqlite3.DatabaseError as exc:
            raise CriticEvalError(f"cannot open the judgement cache {self.path}: {exc}; delete it or pass "
                                  "another --cache file") from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM entries WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any], critic: str = "") -> None:
        text = json.dumps(value, sort_keys=True)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO entries (key, critic, value, created) VALUES (?, ?, ?, ?)",
                             (key, critic, text, time.time()))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "JudgementCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
