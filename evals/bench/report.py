"""report.md and report.html: the method x difficulty table, requirement accuracy, the agent's
diagnostics, the success-versus-budget plot (a PNG beside report.md, embedded in the HTML) and,
in the HTML, example briefs with every method's answer and the agent's tree."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from jinja2 import Environment

from evals.bench import plots
from evals.bench.config import format_policy
from evals.bench.examples import examples as example_briefs
from evals.tables import TABLES_HTML, TABLES_MARKDOWN

DEFINITIONS = {
    "compute matching": "every method gets the same engine, the same budget of B images per brief (a batched "
                        "call of n images counts n; a method that asks for more raises BudgetExceeded) and the "
                        "same seeds where it uses seeds (s, s+1, ... from the brief's seed).",
    "all-correct": "the method's answer passes every requirement of the brief, judged by the exact shapes "
                   "critic whatever critic drove the method. 95% Wilson score intervals.",
    "success vs budget": "the all-correct rate of the method's answer after k images: best-of-n and "
                         "prompt-only the best by the driving critic among the first k, loopback the k-th "
                         "image, the agent its best node (driving critic's score) among the nodes of the first "
                         "k images; a method that stopped early keeps its answer; single only at k = 1.",
    "calls to success": "the first k at which the method's answer is all-correct; mean and median over the "
                        "briefs where that happens within the budget (their number in brackets).",
    "images used": "images the method made through the counted engine (unused budget is not spent).",
    "requirement accuracy": "share of the answers' requirements that pass, by requirement kind.",
    "false accepts": "answers the driving critic passed on every requirement (the method's claim of success) "
                     "that the exact judge fails; the rate is over the briefs where the method claimed success. "
                     "Methods that use no critic claim nothing (–). For the agent also over the runs that stopped "
                     "by accepting (its own claim). Always 0 with the exact critic driving.",
    "false drifts": "the agent's drift detections (requirements said lost since the node its action started from) "
                    "where, by the exact judge, none was lost: each still holds in the new image or did not hold "
                    "at the origin. Drift from pixels changed outside an inpaint mask is measured, never false. "
                    "Backtracks they caused: backtracks away from those images. Doubted: claimed losses the agent "
                    "did not take as lost because the pixels contradicted them; really lost: by the exact judge.",
    "agent overhead": "the agent's run wall time minus engine and critic seconds, over the wall time: mean of "
                      "runs and pooled over all runs. Checkpoint bytes per step: checkpoint.sqlite over graph "
                      "steps.",
}


def pct(p: dict[str, Any] | None) -> str:
    if not p or p.get("rate") is None:
        return "n/a"
    ci = p["ci"]
    return f"{100 * p['rate']:.0f}% [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def num(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    agg, tim = results["aggregates"], results["timings"]["aggregates"]
    methods = list(agg)
    cols = plots.columns_of(agg)
    main, reqs, agent, wrong = [], [], [], []
    kinds = sorted({k for m in methods for c in cols for k in agg[m][c]["requirements"]["by_kind"]})
    for m in methods:
        for c in cols:
            a, t = agg[m][c], tim[m][c]
            cts = a["calls_to_success"]
            main.append([m, c, pct(a["all_correct"]), f"{num(cts['mean'])} / {num(cts['median'])} ({cts['n']})",
                         num(a["calls"]["mean"]), num(a["critic_calls"]["mean"]), num(a["tokens"]["mean"], 0),
                         num(t["wall_s"]["mean"], 2)])
            wrong.append([m, c, false_accepts(a.get("false_accepts")), num(a["critic_calls"]["mean"])])
            if "false_acceptances" in a.get("agent", {}):
                wrong.append([f"{m} (stopped by accepting)", c, false_accepts(a["agent"]["false_acceptances"]), ""])
            by_kind = a["requirements"]["by_kind"]
            reqs.append([m, c, pct(a["requirements"]["overall"])] + [pct(by_kind.get(k)) for k in kinds])
            if "agent" in a:
                d = a["agent"]
                status = ", ".join(f"{k} {v}" for k, v in d["status"].items())
                share = t.get("overhead_share", {})
                ckpt = t.get("checkpoint_bytes_per_step", {})
                agent.append([c, f"{num(d['drifts']['mean'], 2)} ({d['drifts']['total']:g})",
                              f"{num(d['backtracks']['mean'], 2)} ({d['backtracks']['total']:g})",
                              false_drifts(d.get("false_drifts")), status,
                              f"{pct_plain(share.get('mean'))} / {pct_plain(share.get('pooled'))}",
                              num(ckpt.get("mean"), 0)])
    budget = results["settings"]["budget"]
    curve = [[m, c] + [point(agg[m][c]["curve"], k) for k in range(1, budget + 1)] for m in methods for c in cols]
    out = [{"title": "All-correct rate, calls to success and time", "rows": main,
            "head": ["method", "difficulty", "all-correct [95% CI]", "calls to success mean / median (n)",
                     "images used", "critic calls", "tokens", "time per brief (s)"]},
           {"title": "Success versus budget (all-correct % after k images)", "rows": curve,
            "head": ["method", "difficulty"] + [f"k={k}" for k in range(1, budget + 1)]},
           {"title": "Requirement accuracy (share of requirements passed [95% CI])", "rows": reqs,
            "head": ["method", "difficulty", "overall"] + kinds},
           {"title": "What the driving critic got wrong: false accepts", "rows": wrong,
            "head": ["method", "difficulty", "false accepts / claims (rate)", "critic calls per brief"]}]
    if agent:
        out.append({"title": "The agent: drift, backtracking, overhead", "rows": agent,
                    "head": ["difficulty", "drift detections mean (total)", "backtracks mean (total)",
                             "false drifts / detected (rate), backtracks they caused", "status",
                             "own overhead share mean / pooled", "checkpoint bytes per step"]})
    return out


def false_accepts(fa: dict[str, Any] | None) -> str:
    """"count / claims (rate [CI])", or "–" when the method claimed nothing (it uses no critic)."""
    if not fa or not fa["claimed"]:
        return "–"
    return f"{fa['count']} / {fa['claimed']} ({pct(fa)})"


def false_drifts(fd: dict[str, Any] | None) -> str:
    if not fd:
        return "n/a"
    rate = "" if fd["rate"] is None else f" ({100 * fd['rate']:.0f}%)"
    bt = fd["backtracks"]["total"]
    doubted = fd.get("doubted_losses") or 0
    doubts = f"; {doubted} claimed loss(es) doubted, {fd.get('doubted_wrongly', 0)} really lost" if doubted else ""
    return f"{fd['count']} / {fd['drifts']}{rate}, {bt:g} backtrack{'' if bt == 1 else 's'}{doubts}"


def pct_plain(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def point(points: list[dict], k: int) -> str:
    p = next((p for p in points if p["k"] == k), None)
    return "" if p is None else f"{100 * p['rate']:.0f}%"


def write_reports(results: dict[str, Any], out: Path, examples: int = 6) -> dict[str, Path]:
    agg = results["aggregates"]
    methods = list(agg)
    png = plots.success_vs_budget(agg, methods, plots.columns_of(agg), results["settings"]["budget"])
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "plots" / "success_vs_budget.png").write_bytes(png)
    s = results["settings"]
    context = {"r": results, "s": s, "policy": format_policy(s.get("agent_policy", {})), "tables": tables(results),
               "defs": DEFINITIONS,
               "n_briefs": len(results["briefs"])}
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    paths["markdown"].write_text(jinja_env().from_string(MARKDOWN).render(**context))
    paths["html"].write_text(jinja_env(html=True).from_string(HTML).render(
        plot=base64.b64encode(png).decode(), examples=example_briefs(results["records"], methods, examples),
        **context))
    return paths


def jinja_env(html: bool = False) -> Environment:
    return Environment(autoescape=html, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


MARKDOWN = """\
# ShapesBench: the agent against compute-matched baselines

{{ n_briefs }} briefs (difficulty {{ s.difficulties | join(", ") }}; {{ s.briefs_per_difficulty }} each), \
budget {{ s.budget }} images per method and brief, driving critic `{{ s.critic }}`, judged by the exact \
critic. Model `{{ s.model.source }}` ({{ s.model.revision }}), {{ s.steps }} steps, seed {{ s.seed }}\
{% if policy %}, agent policy `{{ policy }}`{% endif %}.

```
{{ r.command }}
```
""" + TABLES_MARKDOWN + """
![success versus budget](plots/success_vs_budget.png)

## Methods

{% for m, d in r.methods.items() %}
- **{{ m }}**: {{ d }}
{% endfor %}

## Definitions

{% for k, v in defs.items() %}
- **{{ k }}**: {{ v }}
{% endfor %}
"""

HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ShapesBench</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } td { font-variant-numeric: tabular-nums; } img.plot { max-width: 100%; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
.ex { border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; margin: 14px 0; }
.answers { display: flex; gap: 12px; flex-wrap: wrap; }
.answer { text-align: center; font-size: 12px; }
.thumb { width: 72px; height: 72px; image-rendering: pixelated; border: 3px solid #ccc; border-radius: 4px; }
.ok { border-color: #1a7f37; } .bad { border-color: #cf222e; }
.tree ul { list-style: none; padding-left: 22px; margin: 0; border-left: 2px solid #ddd; }
.tree li { margin: 4px 0; } .node { display: inline-flex; gap: 8px; align-items: center; font-size: 12px; }
.node .thumb { width: 48px; height: 48px; } .best { font-weight: bold; color: #bf8700; }
.muted { color: #666; }
</style></head><body>
<h1>ShapesBench: the agent against compute-matched baselines</h1>
<p>{{ n_briefs }} briefs (difficulty {{ s.difficulties | join(", ") }}; {{ s.briefs_per_difficulty }} each),
budget {{ s.budget }} images per method and brief, driving critic <code>{{ s.critic }}</code>, judged by the
exact critic. Model <code>{{ s.model.source }}</code> ({{ s.model.revision }}), {{ s.steps }} steps,
seed {{ s.seed }}{% if policy %}, agent policy <code>{{ policy }}</code>{% endif %}.</p>
<pre>{{ r.command }}</pre>
""" + TABLES_HTML + """<h2>Success versus budget</h2>
<img class="plot" alt="success versus budget" src="data:image/png;base64,{{ plot }}">
{% if examples %}
<h2>Examples: every method's answer, and the agent's tree</h2>
<p class="muted">Green frame: all-correct by the exact critic; red: something fails. Tree edges name the action
that made each image (with its strength); the agent's answer is marked ★.</p>
{% for ex in examples %}
<div class="ex"><b>{{ ex.id }}</b> · {{ ex.brief }} · agent {{ ex.status }} ·
<a href="{{ ex.run }}/report.html">run report</a>
<div class="answers">
{% for a in ex.answers %}<div class="answer">
{% if a.image %}<a href="{{ a.image }}"><img class="thumb {{ 'ok' if a.ok else 'bad' }}" src="{{ a.image }}"
 alt="{{ a.method }}" title="{{ a.failed | join(', ') or 'all pass' }}"></a>{% endif %}
<br>{{ a.method }} ({{ a.calls }})</div>
{% endfor %}</div>
<div class="tree"><ul>
{% for node in ex.tree recursive %}<li><span class="node">
<img class="thumb {{ 'ok' if node.ok else 'bad' }}" src="{{ node.image }}" alt="{{ node.id }}">
<span>{{ node.edge }} → <span class="{{ 'best' if node.best }}">{{ node.id }}{{ ' ★' if node.best }}</span>
 <span class="muted">score {{ '%.2f' % node.score if node.score is not none else 'n/a' }},
 seed {{ node.seed }}</span></span></span>
{% if node.children %}<ul>{{ loop(node.children) }}</ul>{% endif %}</li>
{% endfor %}</ul></div></div>
{% endfor %}
{% endif %}
<h2>Methods</h2><ul>
{% for m, d in r.methods.items() %}<li><b>{{ m }}</b>: {{ d }}</li>
{% endfor %}</ul>
<h2>Definitions</h2><dl>
{% for k, v in defs.items() %}<dt><b>{{ k }}</b></dt><dd>{{ v }}</dd>
{% endfor %}</dl></body></html>
"""
