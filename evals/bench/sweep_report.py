"""A noise sweep's report.md and report.html: all-correct per method at each critic error rate (a
table and a plot), what the fallible critic got wrong (false accepts, false drifts and the
backtracks they caused), critic calls, and success versus budget at every level with the agent's
margin over best-of-n at each k. Each level's own report (trees, examples) stays in its folder."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from evals.bench import plots
from evals.bench.config import format_policy
from evals.tables import TABLES_HTML, TABLES_MARKDOWN
from evals.bench.report import (false_accepts, false_drifts, jinja_env, num, pct,
                                 point)

DEFINITIONS = {
    "critic error rate": "the driving critic's expected share of wrong requirement verdicts: 0 is the exact "
                         "shapes critic, r > 0 is noisy:r (agent/critics/noisy.py: the exact critic's verdicts, "
                         "a share r of them wrong, the same way every time for one image and requirement).",
    "all-correct": "the method's answer passes every requirement by the exact judge, whatever critic drove the "
                   "method. 95% Wilson score intervals.",
    "false accepts": "answers the driving critic passed on every requirement (the method's claim of success) "
                     "that the exact judge fails: count / claims (rate over claims, 95% CI). Methods that use no "
                     "critic claim nothing (–). For the agent also counted over the runs that stopped by accepting "
                     "(its own claim, after any confirmation by light redraws it asks for).",
    "critic calls": "calls the method made to its driving critic, per brief (mean).",
    "false drifts": "the agent's drift detections (a new image said to have lost requirements that held where "
                    "its action started) where, by the exact judge, none of those requirements was lost: each "
                    "still holds in the new image or did not hold at the origin either. false / detected "
                    "(rate). Drift from pixels changed outside an inpaint mask is measured and never false.",
    "backtracks caused": "backtracks away from a falsely drifted image (the agent abandoned a branch for nothing).",
    "doubted": "claimed losses the agent did not take as lost because the pixels contradicted them (no drift); "
               "'really lost' counts those the exact judge says were lost after all.",
    "agent minus best-of-n": "the agent's all-correct rate minus best-of-n's after k images, in percentage points, "
                             "on the same briefs; 'below' marks every k where the agent is under best-of-n.",
    "reuse": "methods that use no critic (single, loopback) make the same images and get the same exact "
             "verdicts at every level; they run at the first level and their records are copied to the others "
             "(timings marked reused_from).",
}


def tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    by_level = results["aggregates"]
    labels = list(by_level)
    first = by_level[labels[0]]
    methods, cols = list(first), plots.columns_of(first)
    head = ["method", "difficulty"] + [f"error {lv}" for lv in labels]
    correct, accepts, calls, drifts = [], [], [], []
    for m in methods:
        for c in cols:
            at = [by_level[lv][m][c] for lv in labels]
            correct.append([m, c] + [pct(a["all_correct"]) for a in at])
            accepts.append([m, c] + [false_accepts(a.get("false_accepts")) for a in at])
            if all("false_acceptances" in a.get("agent", {}) for a in at):
                accepts.append([f"{m} (stopped by accepting)", c]
                               + [false_accepts(a["agent"]["false_acceptances"]) for a in at])
            calls.append([m, c] + [num(a["critic_calls"]["mean"]) for a in at])
            if all("false_drifts" in a.get("agent", {}) for a in at):
                drifts.append([m, c] + [false_drifts(a["agent"]["false_drifts"]) for a in at])
    out = [{"title": "All-correct rate by critic error rate [95% CI]", "head": head, "rows": correct},
           {"title": "False accepts: claimed all-correct by the driving critic, failed by the exact judge "
                     "(count / claims, rate)", "head": head, "rows": accepts},
           {"title": "Critic calls per brief (mean)", "head": head, "rows": calls}]
    if drifts:
        out.append({"title": "The agent: false drifts / drift detections (rate), and the backtracks they caused",
                    "head": head, "rows": drifts})
    budget = results["settings"]["budget"]
    ks = [f"k={k}" for k in range(1, budget + 1)]
    margin = margin_table(by_level, cols, budget)
    if margin:
        out.append({"title": "Agent minus best-of-n, points of all-correct, at k = 1..B", "rows": margin,
                    "head": ["critic error", "difficulty"] + ks + ["agent below at k"]})
    for lv in labels:
        rows = [[m, c] + [point(by_level[lv][m][c]["curve"], k) for k in range(1, budget + 1)]
                for m in methods for c in cols]
        out.append({"title": f"Success versus budget at critic error rate {lv} (all-correct % after k images)",
                    "head": ["method", "difficulty"] + ks, "rows": rows})
    return out


def margin(agent: list[dict], best_of_n: list[dict], budget: int) -> list[float | None]:
    """The agent's all-correct rate minus best-of-n's at each k, in points (None where either has no point)."""
    a = {p["k"]: p["rate"] for p in agent}
    b = {p["k"]: p["rate"] for p in best_of_n}
    return [round(100 * (a[k] - b[k]), 1) if k in a and k in b else None for k in range(1, budget + 1)]


def margin_table(by_level: dict[str, dict], cols: list[str], budget: int) -> list[list[str]]:
    rows = []
    for lv, agg in by_level.items():
        if "agent" not in agg or "best-of-n" not in agg:
            return []
        for c in cols:
            diffs = margin(agg["agent"][c]["curve"], agg["best-of-n"][c]["curve"], budget)
            below = [str(k) for k, d in enumerate(diffs, 1) if d is not None and d < 0]
            cells = ["" if d is None else f"{d:+.0f}" + (" below" if d < 0 else "") for d in diffs]
            rows.append([lv, c] + cells + [", ".join(below) or "none"])
    return rows


def write_sweep_reports(results: dict[str, Any], out: Path) -> dict[str, Path]:
    by_level = results["aggregates"]
    first = next(iter(by_level.values()))
    methods, cols = list(first), plots.columns_of(first)
    s = results["settings"]
    figures = {"noise": plots.all_correct_vs_noise(by_level, s["critic_noise"], methods, cols),
               "curves": plots.curves_by_level(by_level, methods, cols[-1], s["budget"])}
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    context = {"r": results, "s": s, "policy": format_policy(s.get("agent_policy", {})), "tables": tables(results),
               "defs": DEFINITIONS}
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    paths["markdown"].write_text(jinja_env().from_string(MARKDOWN).render(**context))
    paths["html"].write_text(jinja_env(html=True).from_string(HTML).render(
        plots={k: base64.b64encode(v).decode() for k, v in figures.items()}, **context))
    return paths


MARKDOWN = """\
# ShapesBench noise sweep: the agent and its baselines under a fallible critic

{{ s.briefs_per_difficulty }} briefs per difficulty ({{ s.difficulties | join(", ") }}), budget {{ s.budget }} \
images per method and brief, driven at each critic error rate by the critic below, every answer judged by the \
exact critic. Model `{{ s.model.source }}` ({{ s.model.revision }}), {{ s.steps }} steps, seed {{ s.seed }}\
{% if policy %}, agent policy `{{ policy }}`{% endif %}.

```
{{ r.command }}
```

| critic error | driving critic | folder | reused |
|---|---|---|---|
{% for lv in r.levels %}
| {{ lv.label }} | `{{ lv.critic }}` | [{{ lv.folder }}]({{ lv.folder }}/report.md) | \
{% if lv.reused %}{{ lv.reused.methods | join(", ") }} from {{ lv.reused.from }}{% else %}–{% endif %} |
{% endfor %}

![all-correct versus critic error rate](plots/noise.png)
""" + TABLES_MARKDOWN + """
![success versus budget by level](plots/curves.png)

## Definitions

{% for k, v in defs.items() %}
- **{{ k }}**: {{ v }}
{% endfor %}
"""

HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ShapesBench noise sweep</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } td { font-variant-numeric: tabular-nums; } img.plot { max-width: 100%; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
</style></head><body>
<h1>ShapesBench noise sweep: the agent and its baselines under a fallible critic</h1>
<p>{{ s.briefs_per_difficulty }} briefs per difficulty ({{ s.difficulties | join(", ") }}), budget {{ s.budget }}
images per method and brief, driven at each critic error rate by the critic below, every answer judged by the
exact critic. Model <code>{{ s.model.source }}</code> ({{ s.model.revision }}), {{ s.steps }} steps, seed
{{ s.seed }}{% if policy %}, agent policy <code>{{ policy }}</code>{% endif %}.</p>
<pre>{{ r.command }}</pre>
<table><tr><th>critic error</th><th>driving critic</th><th>folder</th><th>reused</th></tr>
{% for lv in r.levels %}<tr><td>{{ lv.label }}</td><td><code>{{ lv.critic }}</code></td>
<td><a href="{{ lv.folder }}/report.html">{{ lv.folder }}</a></td>
<td>{% if lv.reused %}{{ lv.reused.methods | join(", ") }} from {{ lv.reused.from }}{% else %}–{% endif %}</td></tr>
{% endfor %}</table>
<img class="plot" alt="all-correct versus critic error rate" src="data:image/png;base64,{{ plots.noise }}">
""" + TABLES_HTML + """<img class="plot" alt="success versus budget by level" src="data:image/png;base64,{{ plots.curves }}">
<h2>Definitions</h2><dl>
{% for k, v in defs.items() %}<dt><b>{{ k }}</b></dt><dd>{{ v }}</dd>
{% endfor %}</dl></body></html>
"""
