"""Writing the results: metrics.json, pairs.jsonl, report.md (with PNG files) and a self-contained
report.html (figures embedded), several critics side by side."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment

from evals.critic_eval import plots
from evals.critic_eval.judge import PairOutcome
from evals.tables import TABLES_HTML, TABLES_MARKDOWN

DEFINITIONS = {
    "pair": "two images for one prompt and the people's label: image a, image b, or a tie. Ranked datasets "
            "(HPD v2, ImageRewardDB) give every pair of images within a prompt; equal ranks are a tie.",
    "both orders": "every pair is judged twice with critic.judge_pair, a shown first and b shown first. The "
                   "prediction is the image both orders name; if the orders disagree (including one tie) the "
                   "prediction is a tie; if either order failed the pair counts as failed. In (1) and (2) a "
                   "scorer's ties are its own (clip: scores within its tie_threshold, 0 by default).",
    "no_ties": "(1) accuracy without human ties: over pairs where people preferred one image, the share the "
               "critic predicted; predicted ties and failures count as wrong. All pairs (validation and test).",
    "with_ties": "(2) accuracy with ties: over all pairs, the share whose prediction equals the label exactly "
                 "(a predicted tie is right only on a human tie, wrong otherwise). All pairs.",
    "pickscore": "(3) three-way credit (Pick-a-Pic): over test-split pairs, 1 for an exact match, 0.5 when "
                 "exactly one of prediction and label is a tie, 0 for the opposite image or a failure. For "
                 "critics that score images, a pair is predicted a tie when |score(a) - score(b)| (mean of the "
                 "two orders) is at most a threshold tuned on the validation split to maximise this credit; "
                 "other critics are scored on their own ties.",
    "split": "prompts (not pairs) are assigned to validation or test by a seeded hash, so one prompt never "
             "tunes its own threshold.",
    "ci": "95% percentile bootstrap intervals, resampling prompts with replacement (pairs of one prompt move "
          "together); the same seeded resamples for every critic. The tuned threshold is held fixed.",
    "flip_rate": "position-flip rate: share of pairs, both orders answered, whose winner changes when the "
                 "order is swapped (a tie in one order and a winner in the other counts as a change).",
    "first_position_rate": "share of judgements naming a winner that named the image shown first; 0.5 is "
                           "unbiased.",
    "failures": "parse-failure rate: share of judgements (pair x order) with no usable answer: the critic "
                "raised CriticReplyError (or another CriticError short of being unreachable) while planning or "
                "judging, or returned an invalid ranking. An unreachable critic stops the run instead.",
    "latency": "seconds per judge_pair call, as measured when the call was made (cached answers keep theirs).",
    "usage": "calls, tokens and dollars the critic reported (Usage), for judging plus planning; cached "
             "answers count what they cost when made.",
    "human_ceiling": "leave-one-annotator-out: each annotator's own vote against the averaged ranking of the "
                     "others, scored with the same three accuracies (no tuning), where annotations are published.",
}


def write_reports(metrics: dict[str, Any], outcomes: dict[str, list[PairOutcome]], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    figures = {"accuracy": plots.accuracy_plot(metrics["critics"], metrics.get("human_ceiling")),
               "position": plots.position_plot(metrics["critics"]),
               "calibration": plots.calibration_plot(metrics["critics"])}
    figures = {k: v for k, v in figures.items() if v}
    (out / "plots").mkdir(exist_ok=True)
    for name, png in figures.items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    paths = {"metrics": out / "metrics.json", "pairs": out / "pairs.jsonl", "markdown": out / "report.md",
             "html": out / "report.html"}
    paths["metrics"].write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")
    with paths["pairs"].open("w") as fh:
        for label, rows in outcomes.items():
            for o in rows:
                fh.write(json.dumps({"critic": label, **o.to_dict()}) + "\n")
    context = {"m": metrics, "defs": DEFINITIONS, "figures": list(figures), "tables": _tables(metrics)}
    paths["markdown"].write_text(_env().from_string(MARKDOWN).render(**context))
    embedded = {k: base64.b64encode(v).decode() for k, v in figures.items()}
    paths["html"].write_text(_env(html=True).from_string(HTML).render(embedded=embedded, **context))
    return paths


def fmt(est: dict[str, Any] | None, digits: int = 3) -> str:
    if not est or est.get("value") is None:
        return "n/a"
    ci = est.get("ci")
    text = f"{est['value']:.{digits}f}"
    return text + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def _tables(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's two tables as header and rows of cell strings, shared by markdown and HTML."""
    accuracy, behaviour = [], []
    for c in metrics["critics"]:
        acc, pos, lat, use, fail = c["accuracy"], c["position"], c["latency"], c["usage"], c["failures"]
        threshold = acc["pickscore"].get("threshold")
        if threshold is None:
            tie = "own ties"
        else:
            tie = f"{threshold:.4g}" + ("" if acc["pickscore"]["tuned"] else " (untuned)")
        accuracy.append([c["label"], fmt(acc["no_ties"]), fmt(acc["with_ties"]), fmt(acc["pickscore"]), tie])
        failures = "n/a" if fail["rate"] is None else f"{fail['rate']:.1%} ({fail['failed']}/{fail['judgements']})"
        latency = "n/a" if lat["mean_s"] is None else f"{lat['mean_s']:.3f} / {lat['p95_s']:.3f}"
        tokens = use["input_tokens"] + use["output_tokens"]
        behaviour.append([c["label"], fmt(pos["flip_rate"]), fmt(pos["first_position_rate"]), failures, latency,
                          f"{use['calls']} calls, {tokens} tokens, ${use['cost_usd']:.4f}"])
    ceiling = metrics.get("human_ceiling")
    if ceiling:
        acc = ceiling["accuracy"]
        accuracy.append([f"human ceiling ({ceiling['annotator_votes']} annotator votes)", fmt(acc["no_ties"]),
                         fmt(acc["with_ties"]), fmt(acc["pickscore"]), "none"])
    return [
        {"title": "Accuracy (value [95% CI])", "rows": accuracy,
         "head": ["critic", "(1) without ties", "(2) with ties", "(3) three-way (test)", "tie threshold"]},
        {"title": "Position bias, failures, latency, cost", "rows": behaviour,
         "head": ["critic", "flip rate", "first preferred", "parse failures", "latency mean / p95 (s)", "usage"]},
    ]


def _env(html: bool = False) -> Environment:
    return Environment(autoescape=html, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


MARKDOWN = """\
# Critic evaluation: {{ m.dataset.format }}

Dataset `{{ m.dataset.path }}`{% if m.dataset.split %} (split `{{ m.dataset.split }}`){% endif %}: \
{{ m.dataset.pairs }} pairs over {{ m.dataset.prompts }} prompts; human labels \
a={{ m.dataset.human_labels.a }}, b={{ m.dataset.human_labels.b }}, tie={{ m.dataset.human_labels.tie }}; \
validation {{ m.dataset.val_pairs }} pairs / test {{ m.dataset.test_pairs }} pairs. \
Seed {{ m.settings.seed }}, {{ m.settings.bootstrap }} bootstrap resamples.
{% if m.dataset.load_stats %}

Loading: {% for k, v in m.dataset.load_stats.items() %}{{ k }} {{ v }}{{ "; " if not loop.last }}{% endfor %}.
{% endif %}
""" + TABLES_MARKDOWN + """
{% for f in figures %}
![{{ f }}](plots/{{ f }}.png)

{% endfor %}
## Definitions

{% for k, v in defs.items() %}
- **{{ k }}**: {{ v }}
{% endfor %}
"""

HTML = """\
<!doctype html>
<html><head><meta charset="utf-8"><title>Critic evaluation: {{ m.dataset.format }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f3f3f3; } td { font-variant-numeric: tabular-nums; } img { max-width: 100%; }
dt { font-weight: bold; margin-top: .5em; }
</style></head><body>
<h1>Critic evaluation: {{ m.dataset.format }}</h1>
<p>Dataset <code>{{ m.dataset.path }}</code>
{% if m.dataset.split %} (split <code>{{ m.dataset.split }}</code>){% endif %}:
{{ m.dataset.pairs }} pairs over {{ m.dataset.prompts }} prompts; human labels a={{ m.dataset.human_labels.a }},
b={{ m.dataset.human_labels.b }}, tie={{ m.dataset.human_labels.tie }}; validation {{ m.dataset.val_pairs }} /
test {{ m.dataset.test_pairs }} pairs. Seed {{ m.settings.seed }}, {{ m.settings.bootstrap }} bootstrap
resamples.</p>
""" + TABLES_HTML + """{% for name, data in embedded.items() %}
<h3>{{ name }}</h3><img alt="{{ name }}" src="data:image/png;base64,{{ data }}">
{% endfor %}
<h2>Definitions</h2><dl>
{% for k, v in defs.items() %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}
</dl></body></html>
"""
