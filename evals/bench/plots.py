"""The benchmark's figures, as PNG bytes (no pyplot state: nothing opens a window): success versus
budget, and for a noise sweep all-correct versus the critic's error rate and the curves by level."""
from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure


def success_vs_budget(aggregates: dict[str, dict], methods: list[str], columns: list[str], budget: int) -> bytes:
    """One panel per difficulty column: the all-correct rate of each method's answer after k images,
    with its 95% Wilson band. single exists at k = 1 only and is drawn as a point."""
    fig = Figure(figsize=(4.2 * len(columns) + 0.8, 3.8), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, col in zip(axes, columns):
        for i, m in enumerate(methods):
            pts = aggregates[m][col]["curve"]
            if not pts:
                continue
            color = f"C{i}"
            ks = [p["k"] for p in pts]
            rates = [p["rate"] for p in pts]
            lo = [p["ci"][0] for p in pts]
            hi = [p["ci"][1] for p in pts]
            if len(pts) == 1:
                ax.errorbar(ks, rates, yerr=[[rates[0] - lo[0]], [hi[0] - rates[0]]], fmt="o", color=color,
                            capsize=3, label=m)
            else:
                ax.plot(ks, rates, marker="o", ms=3, color=color, label=m)
                ax.fill_between(ks, lo, hi, color=color, alpha=0.12, lw=0)
        ax.set_title("all difficulties" if col == "all" else f"difficulty {col} ({col} object(s))")
        ax.set_xlabel("budget k (images)")
        ax.set_xlim(0.5, budget + 0.5)
        ax.set_xticks(range(1, budget + 1))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("all-correct rate (exact critic)")
    axes[-1].legend(fontsize=8, loc="best")
    fig.suptitle("Success versus budget, 95% Wilson intervals")
    return _png(fig)


def all_correct_vs_noise(by_level: dict[str, dict], rates: list[float], methods: list[str],
                         columns: list[str]) -> bytes:
    """One panel per difficulty column: each method's all-correct rate (exact judge) at each critic
    error rate, with 95% Wilson intervals as error bars (methods that use no critic are flat)."""
    fig = Figure(figsize=(4.2 * len(columns) + 0.8, 3.8), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    labels = list(by_level)
    span = (max(rates) - min(rates)) or 1.0
    for ax, col in zip(axes, columns):
        for i, m in enumerate(methods):
            pts = [by_level[lv][m][col]["all_correct"] for lv in labels]
            xs = [r + (i - (len(methods) - 1) / 2) * 0.008 * span for r in rates]  # dodge overlapping bars
            ys = [p["rate"] for p in pts]
            err = [[y - p["ci"][0] for y, p in zip(ys, pts)], [p["ci"][1] - y for y, p in zip(ys, pts)]]
            ax.errorbar(xs, ys, yerr=err, marker="o", ms=4, capsize=3, color=f"C{i}", label=m)
        ax.set_title("all difficulties" if col == "all" else f"difficulty {col} ({col} object(s))")
        ax.set_xlabel("driving critic's error rate")
        ax.set_xticks(rates)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("all-correct rate (exact judge)")
    axes[-1].legend(fontsize=8, loc="best")
    fig.suptitle("All-correct versus critic error rate, 95% Wilson intervals")
    return _png(fig)


def curves_by_level(by_level: dict[str, dict], methods: list[str], column: str, budget: int) -> bytes:
    """One panel per noise level: success versus budget of every method (one difficulty column)."""
    fig = Figure(figsize=(3.6 * len(by_level) + 0.8, 3.6), layout="constrained")
    axes = fig.subplots(1, len(by_level), squeeze=False, sharey=True)[0]
    for ax, (label, agg) in zip(axes, by_level.items()):
        for i, m in enumerate(methods):
            pts = agg[m][column]["curve"]
            if pts:
                ax.plot([p["k"] for p in pts], [p["rate"] for p in pts], marker="o", ms=3, color=f"C{i}", label=m)
        ax.set_title(f"critic error rate {label}")
        ax.set_xlabel("budget k (images)")
        ax.set_xticks(range(1, budget + 1))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("all-correct rate (exact judge)")
    axes[-1].legend(fontsize=8, loc="best")
    which = "all difficulties" if column == "all" else f"difficulty {column}"
    fig.suptitle(f"Success versus budget at each critic error rate ({which})")
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def columns_of(aggregates: dict[str, Any]) -> list[str]:
    first = next(iter(aggregates.values()))
    return list(first)
