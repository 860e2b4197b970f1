"""Figures for the report, as PNG bytes. Figures are built without pyplot's global state, so
reports can be written from any thread and nothing opens a window."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

METHOD_NAMES = {"no_ties": "(1) without human ties", "with_ties": "(2) with ties, exact",
                "pickscore": "(3) three-way credit"}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _bars(ax, series: list[tuple[str, list[dict[str, Any] | None]]], categories: list[str]) -> None:
    """Grouped bars with 95% interval whiskers: one group per category, one bar per series."""
    width = 0.8 / max(1, len(series))
    x = np.arange(len(categories))
    for k, (name, ests) in enumerate(series):
        values = [e["value"] if e and e["value"] is not None else np.nan for e in ests]
        lo = [v - e["ci"][0] if e and e.get("ci") else 0 for v, e in zip(values, ests)]
        hi = [e["ci"][1] - v if e and e.get("ci") else 0 for v, e in zip(values, ests)]
        ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=name,
               yerr=np.array([np.nan_to_num(lo), np.nan_to_num(hi)]), capsize=3)
    ax.set_xticks(x, categories)
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)


def accuracy_plot(critics: list[dict[str, Any]], ceiling: dict[str, Any] | None) -> bytes:
    methods = list(METHOD_NAMES)
    series = [(c["label"], [c["accuracy"].get(m) for m in methods]) for c in critics]
    if ceiling:
        series.append(("human ceiling (LOAO)", [ceiling["accuracy"].get(m) for m in methods]))
    fig = Figure(figsize=(max(6.0, 1.6 * len(methods) * max(1, len(series)) / 2), 3.8))
    ax = fig.subplots()
    _bars(ax, series, [METHOD_NAMES[m] for m in methods])
    ax.set_ylabel("agreement with people")
    ax.set_title("Accuracy with 95% bootstrap intervals (prompts resampled)")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def position_plot(critics: list[dict[str, Any]]) -> bytes:
    series = [(c["label"], [c["position"]["flip_rate"], c["position"]["first_position_rate"]]) for c in critics]
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    _bars(ax, series, ["position-flip rate", "first image preferred"])
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_title("Position bias (0 flips and 0.5 first-preferred are unbiased)")
    ax.legend(fontsize=8)
    return _png(fig)


def calibration_plot(critics: list[dict[str, Any]]) -> bytes | None:
    scored = [c for c in critics if c.get("calibration")]
    if not scored:
        return None
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.subplots()
    for c in scored:
        bins = c["calibration"]
        ax.plot([b["delta_mean"] for b in bins], [b["human_prefers_a"] for b in bins], marker="o",
                label=c["label"])
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("score(a) - score(b), mean of bin")
    ax.set_ylabel("people preferring a (ties = 1/2)")
    ax.set_title("Score calibration")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)
