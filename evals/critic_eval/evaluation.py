"""The one entry point: load a dataset, judge it with every critic, compute metrics, write reports."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.critics.base import Critic
from evals.critic_eval.cache import JudgementCache
from evals.critic_eval.critics import resolve_critics
from evals.critic_eval.errors import CriticEvalError, DatasetError
from evals.critic_eval.judge import PairJudge, PairOutcome
from evals.critic_eval.loaders import FORMATS, load_pairs
from evals.critic_eval.report import DEFINITIONS, write_reports
from evals.critic_eval.runner import run_judges
from evals.critic_eval.summary import summarize_ceiling, summarize_critic, summarize_dataset


@dataclass
class EvalConfig:
    dataset: Path
    format: str
    critics: list[str | Critic]
    critic_options: dict[str, Any] = field(default_factory=dict)  # given to every critic built from a spec
    out: Path | None = None  # None: compute only, write nothing
    limit: int | None = None
    split: str | None = None
    image_root: Path | None = None
    concurrency: int = 4
    seed: int = 0
    val_fraction: float = 0.5
    bootstrap: int = 1000
    cache: Path | None | bool = True  # True: <out>/judgements.sqlite; a path; False/None: in memory
    show_progress: bool = True

    def __post_init__(self) -> None:
        self.dataset = Path(self.dataset).expanduser()
        self.out = Path(self.out).expanduser() if self.out else None
        self.image_root = Path(self.image_root).expanduser() if self.image_root else None
        if self.cache not in (True, False, None):
            self.cache = Path(self.cache).expanduser()

    def validate(self) -> None:
        # Checked before any critic is built: loading a model only to find a typo is slow.
        if not self.dataset.exists():
            raise DatasetError(self.dataset, "does not exist; pass --dataset a file or a folder of the dataset")
        if self.format not in FORMATS:
            raise CriticEvalError(f"unknown --format {self.format!r}; use one of: {', '.join(FORMATS)}")
        if not 0 <= self.val_fraction < 1:
            raise CriticEvalError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.bootstrap < 0:
            raise CriticEvalError(f"--bootstrap must be 0 or more, got {self.bootstrap}")
        if self.concurrency < 1:
            raise CriticEvalError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.limit is not None and self.limit < 1:
            raise CriticEvalError(f"--limit must be at least 1, got {self.limit}")

    def cache_path(self) -> Path | None:
        if self.cache is True:
            return self.out / "judgements.sqlite" if self.out else None
        return Path(self.cache) if self.cache else None


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    outcomes: dict[str, list[PairOutcome]]  # per critic label, in dataset order
    paths: dict[str, Path]


def evaluate(config: EvalConfig) -> EvalResult:
    config.validate()
    critics = resolve_critics(config.critics, config.critic_options)
    stats: Counter = Counter()
    pairs = load_pairs(config.dataset, config.format, split=config.split, image_root=config.image_root,
                       seed=config.seed, limit=config.limit, stats=stats)
    with JudgementCache(config.cache_path()) as cache:
        judges = [PairJudge(c, cache) for c in critics]
        results = run_judges(pairs, judges, concurrency=config.concurrency, seed=config.seed,
                             val_fraction=config.val_fraction, total=config.limit,
                             show_progress=config.show_progress)
    if not results[0]:
        raise CriticEvalError(f"{config.dataset} gave no pairs to judge (load statistics: "
                              f"{dict(stats) or 'none'}); check --format, --split and --limit")
    outcomes = {c.label: r for c, r in zip(critics, results)}
    metrics = {
        "dataset": {"path": str(config.dataset), "format": config.format, "split": config.split,
                    "image_root": str(config.image_root) if config.image_root else None,
                    **summarize_dataset(results[0]), "load_stats": dict(stats)},
        "settings": {"seed": config.seed, "val_fraction": config.val_fraction, "bootstrap": config.bootstrap,
                     "concurrency": config.concurrency, "limit": config.limit,
                     "cache": str(config.cache_path()) if config.cache_path() else None},
        "definitions": DEFINITIONS,
        "critics": [summarize_critic(c.label, r, seed=config.seed, n_boot=config.bootstrap,
                                     plan_usage=j.plan_usage, fresh_calls=j.fresh_calls)
                    for c, r, j in zip(critics, results, judges)],
        "human_ceiling": summarize_ceiling(results[0], seed=config.seed, n_boot=config.bootstrap),
    }
    for c, summary in zip(critics, metrics["critics"]):
        summary["identity"] = c.identity
    paths = write_reports(metrics, outcomes, config.out) if config.out else {}
    return EvalResult(metrics=metrics, outcomes=outcomes, paths=paths)
