"""The studio's files: run folders found by id inside the runs folder and nowhere else, uploads
checked before a run sees them, and downloads that carry their metadata inside the PNG.

Everything the page names (a run id, an image path) comes from the browser, so nothing here trusts
it: an id is a single folder name, a path resolves inside its run folder, or the request is refused.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

from agent.run_files import RUN_FILE, RunFolder
from tools.errors import InputError

STUDIO_DIR = ".studio"  # inside the runs folder: Gradio's uploads and the downloads it hands out
UPLOAD_TYPES = (".png", ".jpg", ".jpeg", ".webp")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # the same limit as `sculpt run --image` (agent/start_image.py)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (links and ``..`` resolved) is ``root`` or lies under it."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


@dataclass
class RunEntry:
    run_id: str
    brief: str
    status: str
    created: str
    mode: str

    @property
    def label(self) -> str:
        brief = self.brief if len(self.brief) <= 60 else self.brief[:57] + "…"
        return f"{brief} · {self.status} · {self.run_id}"


class RunsFolder:
    """The runs folder the studio serves: every run it opens and every file it shows is inside it."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.studio = self.root / STUDIO_DIR
        self.downloads = self.studio / "downloads"

    def run_dir(self, run_id: str | None) -> Path:
        """The folder of a run, by its id; anything else (a path, ``..``, a missing run) is refused."""
        rid = (run_id or "").strip()
        if not _RUN_ID.match(rid) or rid in (".", "..") or rid == STUDIO_DIR:
            raise InputError(f"{run_id!r} is not a run id; choose a run from the list")
        path = self.root / rid
        if not inside(path, self.root) or not (path / RUN_FILE).is_file():
            raise InputError(f"there is no run {rid!r} in {self.root}")
        return path

    def file(self, run_id: str, rel: str) -> Path:
        """A file of a run (``images/….png``), only if it lies inside that run's folder."""
        root = self.run_dir(run_id)
        path = root / rel
        if not inside(path, root) or not path.is_file():
            raise InputError(f"{rel!r} is not a file of run {run_id}")
        return path.resolve()

    def runs(self) -> list[RunEntry]:
        """Every run folder, newest first (a folder whose run.json is unreadable is left out)."""
        out = []
        for d in self.root.iterdir():
            if not d.is_dir() or d.name.startswith(".") or not (d / RUN_FILE).is_file():
                continue
            try:
                run = RunFolder.read(d, events=False)
            except InputError:
                continue
            out.append(RunEntry(run_id=d.name, brief=run.spec.brief, status=run.state.status or "new",
                                created=run.info.created, mode=run.spec.mode))
        return sorted(out, key=lambda e: e.created, reverse=True)

    # -- downloads ---------------------------------------------------------------------------------
    def download(self, run_id: str, node: dict, node_id: str) -> Path:
        """A copy of a node's PNG with its metadata inside: ``parameters`` (the line A1111, Fooocus and
        InvokeAI readers show) and ``sculpt`` (the node and its image sidecar, as JSON). Pixels unchanged."""
        src = self.file(run_id, node["image"])
        sidecar = src.with_suffix(".json")
        records = json.loads(sidecar.read_text()).get("records", []) if sidecar.is_file() else []
        record = next((r for r in records if r.get("node") == node_id), records[0] if records else {})
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", a1111_parameters(node, record))
        info.add_text("sculpt", json.dumps({"run_id": run_id, "node_id": node_id, "node": node, "image": record},
                                           default=str))
        out = self.downloads / run_id / f"{run_id}-{node_id}.png"
        if out.is_file():  # a node's image and metadata never change once made
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(src) as im:
            im.save(out, format="PNG", pnginfo=info)
        return out

    # -- uploads -----------------------------------------------------------------------------------
    def check_upload(self, path: str | Path | None) -> Path:
        """An uploaded start image, checked before anything else reads it: a known type, not too
        large, and an image PIL can decode completely."""
        if not path:
            raise InputError("no file was uploaded")
        p = Path(path)
        if p.suffix.lower() not in UPLOAD_TYPES:
            raise InputError(f"{p.name}: upload a PNG, JPEG or WebP image (not {p.suffix or 'a file without type'})")
        if not p.is_file():
            raise InputError(f"{p.name}: the upload did not arrive; try again")
        size = p.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"{p.name} is {size / 1e6:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB "
                             "are accepted")
        try:
            with Image.open(p) as im:
                w, h = im.size
                if w * h > MAX_UPLOAD_PIXELS:
                    raise InputError(f"{p.name} is {w}x{h}; images up to {MAX_UPLOAD_PIXELS // 1_000_000} "
                                     "megapixels are accepted: scale it down first")
                im.load()  # decode every byte: a truncated or corrupt file fails here, not in a run
        except InputError:
            raise
        except Exception:  # PIL raises many types for a file that is not an image; the person needs one message
            raise InputError(f"{p.name} is not a readable image (it may be cut short or not an image at all); "
                             "upload a PNG, JPEG or WebP file") from None
        return p


def a1111_parameters(node: dict, record: dict) -> str:
    """The generation parameters as one A1111-style text block."""
    params = record.get("params") or node.get("params") or {}
    lines = [params.get("prompt") or node.get("prompt") or ""]
    if params.get("negative_prompt"):
        lines.append(f"Negative prompt: {params['negative_prompt']}")
    bits = {"Steps": params.get("steps"), "Sampler": params.get("scheduler"), "CFG scale": params.get("guidance"),
            "Seed": record.get("seed", node.get("seed")),
            "Size": f"{params['width']}x{params['height']}" if params.get("width") else None,
            "Denoising strength": params.get("strength"), "Task": record.get("task"),
            "Model": (record.get("model") or {}).get("source"),
            "Model hash": (record.get("model") or {}).get("revision")}
    lines.append(", ".join(f"{k}: {v}" for k, v in bits.items() if v is not None))
    return "\n".join(lines)
