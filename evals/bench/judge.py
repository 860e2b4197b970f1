"""The exact judge: every result is scored by the shapes world's exact critic, whoever drove it.

Methods often make the same image (every method's first txt2img uses the brief's seed), so
verdicts are cached by image content hash; images are stored once, by hash, under the output.
"""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from agent.contracts import Requirement
from agent.critics.scene import SceneCritic
from tools.engine.images import image_hash

IMAGES_DIR = "images"


class ExactJudge:
    def __init__(self) -> None:
        self.critic = SceneCritic()
        self._checklists: dict[str, list[Requirement]] = {}
        self._verdicts: dict[tuple[str, str], dict] = {}
        self.fresh = 0  # critiques actually computed (the rest came from the cache)

    def checklist(self, brief: str) -> list[Requirement]:
        if brief not in self._checklists:
            self._checklists[brief] = self.critic.plan(brief).checklist
        return self._checklists[brief]

    def judge(self, brief: str, digest: str, image: Image.Image | None = None,
              path: Path | None = None) -> dict:
        """{ok, score, failed} for the image with this content hash; ``image`` or ``path`` on a miss."""
        key = (digest, brief)
        if key not in self._verdicts:
            if image is None:
                image = Image.open(path).convert("RGB")
            crit = self.critic.critique(image, brief, self.checklist(brief))
            self.fresh += 1
            self._verdicts[key] = {"ok": crit.all_passed, "score": round(crit.score, 4),
                                   "failed": crit.failed_ids}
        return self._verdicts[key]


def store_image(out: Path, image: Image.Image) -> tuple[str, str]:
    """Write an image under its content hash (once). Returns (path relative to ``out``, hash)."""
    digest = image_hash(image)
    rel = f"{IMAGES_DIR}/{digest[:20]}.png"
    path = out / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        image.save(tmp, format="PNG")
        os.replace(tmp, path)  # a kill mid-write never leaves a truncated PNG under the real name
    return rel, digest
