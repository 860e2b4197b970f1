"""Streaming pairs through every critic, concurrently, with a progress bar.

At most a small window of pairs is in flight, so memory holds a few pairs' images whatever the
dataset size; results keep only labels, scores and usage. With ``concurrency=1`` the calls happen
in dataset order (pair by pair, critic by critic, order ab then ba), which scripted critics rely on.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals.critic_eval.errors import CriticEvalError
from evals.critic_eval.judge import PairJudge, PairOutcome, split_of
from evals.critic_eval.pairs import Pair


def run_judges(pairs: Iterable[Pair], judges: list[PairJudge], *, concurrency: int = 4, seed: int = 0,
               val_fraction: float = 0.5, total: int | None = None,
               show_progress: bool = True) -> list[list[PairOutcome]]:
    """Judge every pair with every judge; returns one outcome list per judge, in dataset order."""
    if concurrency < 1:
        raise CriticEvalError(f"--concurrency must be at least 1, got {concurrency}")
    results: list[list[PairOutcome]] = [[] for _ in judges]
    window = max(2, 2 * concurrency)
    inflight: deque[tuple[Pair, list[Future]]] = deque()
    progress = Progress(TextColumn("[bold]judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[note]}"), disable=not show_progress, transient=True)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="critic-eval")
    try:
        with progress:
            task = progress.add_task("judging", total=total, note="")
            cached = 0

            def finish_oldest() -> None:
                nonlocal cached
                pair, futures = inflight.popleft()
                for k, fut in enumerate(futures):
                    outcome = fut.result()  # re-raises the worker's error here
                    results[k].append(outcome)
                    cached += outcome.ab.cached + outcome.ba.cached
                pair.release()
                progress.update(task, advance=1, note=f"{cached} judgements from cache")

            for index, pair in enumerate(pairs):
                split = split_of(pair.group, seed, val_fraction)
                inflight.append((pair, [pool.submit(j.judge, pair, index, split) for j in judges]))
                while len(inflight) >= window:
                    finish_oldest()
            while inflight:
                finish_oldest()
    finally:
        # On an error stop quickly: queued work is dropped, calls already running finish and are cached.
        pool.shutdown(wait=True, cancel_futures=True)
    return results
