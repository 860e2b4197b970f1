"""A briefs file: plain text (one brief per line; blank lines and lines starting with # skipped) or
JSON Lines ({"brief": ..., "seed": ...} per line)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tools.errors import InputError


@dataclass(frozen=True)
class BatchItem:
    index: int
    brief: str
    seed: int

    @property
    def key(self) -> str:
        """The item's run folder name: its place in the file and a slug of its brief."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.brief.lower()).strip("-")[:40]
        return f"{self.index:03d}-{slug or 'brief'}"


def read_briefs(path: Path, seed: int) -> list[BatchItem]:
    """Every brief of the file; without its own seed, a brief gets ``seed`` plus its position."""
    if not path.is_file():
        raise InputError(f"briefs file {path} does not exist")
    items: list[BatchItem] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("{"):
            try:
                rec = json.loads(text)
                brief, item_seed = str(rec["brief"]), int(rec.get("seed", seed + len(items)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{path}:{n}: a JSON line needs a \"brief\" (and optionally a whole-number "
                                 f"\"seed\"): {exc}") from exc
        else:
            brief, item_seed = text, seed + len(items)
        items.append(BatchItem(index=len(items) + 1, brief=brief, seed=item_seed))
    if not items:
        raise InputError(f"{path} holds no briefs: write one per line")
    return items
