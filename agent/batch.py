"""Many briefs in one unattended run: one engine load, one run folder per brief, resumable, and a
morning report.

A briefs file is plain text (one brief per line; blank lines and lines starting with # are skipped)
or JSON Lines ({"brief": ..., "seed": ...} per line). Rerunning the same command skips finished
briefs and resumes the one that was interrupted; a brief that cannot be read is recorded as invalid
and the batch goes on; a critic that cannot be reached stops the batch (rerun it later).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.critics.base import CriticReplyError, CriticUnavailable
from agent.runner import RunResult, RunSpec, load_engine, open_run, prepare_run, recursion_limit
from agent.store import RUN_FILE, atomic_write
from tools.errors import InputError

FINISHED = ("accepted", "budget", "plateau", "stopped")
_ENV = Environment(loader=PackageLoader("agent", "templates"), autoescape=select_autoescape(["html", "j2"]))


@dataclass
class BatchItem:
    index: int
    brief: str
    seed: int

    @property
    def run_id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.brief.lower()).strip("-")[:40]
        return f"{self.index:03d}-{slug or 'brief'}"


def read_briefs(path: Path, seed: int) -> list[BatchItem]:
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


def _summarise(res: RunResult) -> dict:
    return {"status": res.status, "stop_reason": res.stop_reason, "best": res.best,
            "best_image": str(res.best_image.relative_to(res.run_dir.parent.parent)) if res.best_image else None,
            "best_score": res.best_score, "generations": res.state.get("spend", {}).get("generations", 0),
            "report": str((res.run_dir / "report.html").relative_to(res.run_dir.parent.parent))}


def run_batch(briefs: Path, out: Path, template: RunSpec, *, engine=None,
              on_item: Callable[[BatchItem, dict], None] | None = None) -> dict:
    """Run every brief; returns the manifest (also written to out/batch.json)."""
    items = read_briefs(briefs, template.seed)
    replace(template, brief="-").validate()  # budget and mode, before a long night starts
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "batch.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"items": {}}
    manifest["briefs_file"] = str(briefs)
    engine = engine or load_engine(template)  # once for the whole night
    for item in items:
        key = item.run_id
        done = manifest["items"].get(key)
        if done and done.get("status") in FINISHED + ("invalid",):
            continue
        run_dir = runs / key
        try:
            if (run_dir / RUN_FILE).exists() and (run_dir / "checkpoint.sqlite").exists():
                with open_run(run_dir, engine=engine) as runner:
                    res = runner.resume()
            else:
                spec = replace(template, brief=item.brief, seed=item.seed)
                runner, initial = prepare_run(spec, runs, engine=engine, run_id=key)
                with runner:
                    res = runner.stream(initial, recursion_limit(spec.budget))
            entry = {"brief": item.brief, "seed": item.seed, **_summarise(res)}
        except CriticUnavailable:
            raise
        except CriticReplyError as exc:  # e.g. a refusal to plan this brief: the others may be fine
            entry = {"brief": item.brief, "seed": item.seed, "status": "critic_failed", "error": str(exc)}
        except InputError as exc:
            entry = {"brief": item.brief, "seed": item.seed, "status": "invalid", "error": str(exc)}
        manifest["items"][key] = entry
        atomic_write(manifest_path, json.dumps(manifest, indent=1))
        if on_item:
            on_item(item, entry)
        if entry["status"] == "critic_unavailable":
            break  # the critic is down: stop the night here, rerun the command later
    write_morning_report(out, manifest, items)
    return manifest


def write_morning_report(out: Path, manifest: dict, items: list[BatchItem]) -> None:
    rows = [{"key": i.run_id, "brief": i.brief, **manifest["items"].get(i.run_id, {"status": "not run"})}
            for i in items]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines = ["# sculpt batch", "", " · ".join(f"{k}: {v}" for k, v in sorted(counts.items())), "",
             "| # | brief | status | score | images | best image |", "|---|---|---|---|---|---|"]
    for r in rows:
        score = f"{r['best_score']:.2f}" if r.get("best_score") is not None else "—"
        lines.append(f"| {r['key'][:3]} | {r['brief']} | {r['status']} | {score} | {r.get('generations', '—')} | "
                     f"{r.get('best_image') or r.get('error', '—')} |")
    atomic_write(out / "summary.md", "\n".join(lines) + "\n")
    atomic_write(out / "summary.html", _ENV.get_template("batch.html.j2").render(rows=rows, counts=counts))
