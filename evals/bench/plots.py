"""The success-versus-budget figure, as PNG bytes (no pyplot state: nothing opens a window)."""
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


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def columns_of(aggregates: dict[str, Any]) -> list[str]:
    first = next(iter(aggregates.values()))
    return list(first)
