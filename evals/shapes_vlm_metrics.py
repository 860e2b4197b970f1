"""The figures of evals/shapes_vlm.py: verdict rates, calibration, localisation, and their tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

THRESHOLD = 0.5  # the verdict: P(Yes) >= 0.5


def rates(rows: list[dict]) -> dict:
    """Accuracy, and how often a false requirement was passed (false yes) and a true one failed."""
    if not rows:
        return {"n": 0}
    truth = np.array([r["truth"] for r in rows])
    said = np.array([r["p"] >= THRESHOLD for r in rows])
    return {"n": len(rows), "accuracy": float((said == truth).mean()), "yes_share": float(truth.mean()),
            "false_yes": float(said[~truth].mean()) if (~truth).any() else None,
            "false_no": float((~said[truth]).mean()) if truth.any() else None}


def fitted_noise(rows: list[dict]) -> dict:
    """The ``noisy:`` critic that errs as often as the model does on the verdicts a run asks for (an
    image's own checklist): ``rate`` its share of wrong verdicts, ``yes`` the share of those that are
    false passes. ``near`` is left at 0: how the model's mistakes gather on borderline answers is what
    comparing the two benchmarks measures."""
    truth = np.array([r["truth"] for r in rows])
    said = np.array([r["p"] >= THRESHOLD for r in rows])
    wrong = said != truth
    if not wrong.any():
        return {"rate": 0.0, "yes": None, "spec": "noisy:0"}
    rate, yes = float(wrong.mean()), float((said & ~truth).sum() / wrong.sum())
    return {"rate": rate, "yes": yes, "spec": f"noisy:{rate:.3f},yes={yes:.2f}"}


def calibration(rows: list[dict], bins: int = 10) -> dict:
    """Expected calibration error of P(Yes) against the truth, over equal-width bins."""
    p = np.array([r["p"] for r in rows])
    y = np.array([r["truth"] for r in rows], float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        sel = which == b
        if not sel.any():
            continue
        conf, freq = float(p[sel].mean()), float(y[sel].mean())
        ece += sel.mean() * abs(conf - freq)
        table.append({"bin": [float(edges[b]), float(edges[b + 1])], "n": int(sel.sum()),
                      "mean_p_yes": conf, "share_yes": freq})
    # The confidence of the verdict given (max of P(yes), P(no)) against its accuracy, as usually reported.
    conf = np.maximum(p, 1 - p)
    right = ((p >= THRESHOLD) == y.astype(bool)).astype(float)
    cw = np.clip(np.digitize(conf, np.linspace(0.5, 1, bins // 2 + 1)) - 1, 0, bins // 2 - 1)
    verdict_ece = sum((cw == b).mean() * abs(conf[cw == b].mean() - right[cw == b].mean())
                      for b in range(bins // 2) if (cw == b).any())
    return {"ece": float(ece), "verdict_ece": float(verdict_ece), "bins": table,
            "brier": float(((p - y) ** 2).mean())}


def reliability_plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cal = calibration(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="perfect calibration")
    xs = [b["mean_p_yes"] for b in cal["bins"]]
    ys = [b["share_yes"] for b in cal["bins"]]
    ax.plot(xs, ys, marker="o", color="C0", label=f"shapes critic (ECE {cal['ece']:.3f})")
    for x, y, b in zip(xs, ys, cal["bins"]):
        ax.annotate(str(b["n"]), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=6, color="0.4")
    ax.set_xlabel('P("Yes") read from the model')
    ax.set_ylabel("share of requirements that hold (exact checker)")
    ax.set_title("Reliability on held-out diffusion-model images", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def localisation(dets: list[dict]) -> dict:
    """Share of true boxes matched by a predicted box at IoU >= 0.5 (greedy, one to one), share of
    predicted boxes that match, and how often an absent object is answered with no box."""
    truths = found = predicted = matched_pred = absent = absent_ok = exact_count = present = 0
    ious = []
    for d in dets:
        pred = [b for b, _ in d["pred"]]
        if not d["truth"]:
            absent += 1
            absent_ok += not pred
            continue
        present += 1
        exact_count += len(pred) == len(d["truth"])
        free = list(range(len(pred)))
        for t in d["truth"]:
            best = max(free, key=lambda k: _iou(t, pred[k]), default=None)
            if best is not None and _iou(t, pred[best]) >= 0.5:
                found += 1
                ious.append(_iou(t, pred[best]))
                free.remove(best)
        truths += len(d["truth"])
        predicted += len(pred)
        matched_pred += len(pred) - len(free)
    return {"present_questions": present, "true_boxes": truths,
            "hit_rate_iou50": found / truths if truths else None,
            "precision_iou50": matched_pred / predicted if predicted else None,
            "mean_iou_of_hits": float(np.mean(ious)) if ious else None,
            "right_number_of_boxes": exact_count / present if present else None,
            "absent_questions": absent, "absent_answered_none": absent_ok / absent if absent else None}


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"


def show(r: dict, console) -> None:
    t = Table(title=f"shapes critic on {r['images']} held-out diffusion-model images")
    for c in ("questions", "n", "accuracy", "false yes", "false no", "truth yes"):
        t.add_column(c, justify="right" if c != "questions" else "left")

    def row(name, s):
        if s.get("n"):
            t.add_row(name, str(s["n"]), _pct(s["accuracy"]), _pct(s["false_yes"]), _pct(s["false_no"]),
                      _pct(s["yes_share"]))

    row("all yes/no questions", r["verdicts"])
    row("the image's own checklist", r["checklist"])
    for group, title in (("by_kind", "kind"), ("by_objects", "objects"), ("by_image_source", "image"),
                         ("by_question", "question")):
        for k, s in r[group].items():
            row(f"  {title}: {k}", s)
    console.print(t)
    c, loc = r["calibration"], r["localisation"]
    console.print(f"calibration: ECE {c['ece']:.3f} (P(yes) bins), {c['verdict_ece']:.3f} (verdict confidence), "
                  f"Brier {c['brier']:.3f}")
    console.print(f"localisation: {_pct(loc['hit_rate_iou50'])} of {loc['true_boxes']} true boxes found at IoU >= 0.5, "
                  f"precision {_pct(loc['precision_iou50'])}, absent objects answered 'none' "
                  f"{_pct(loc['absent_answered_none'])}")
    if r.get("fitted_noise"):
        console.print(f"the coin that errs as often (on the images' own checklists): {r['fitted_noise']['spec']}")
    if r.get("seconds_per_critique") is not None:
        line = (f"seconds per critique: {r['seconds_per_critique']:.3f} "
                f"({r['requirements_per_critique']:.1f} requirements, one batched pass)")
        if r.get("diffusion_seconds_per_image"):
            line += f"; diffusion model: {r['diffusion_seconds_per_image']:.3f} s per image"
        console.print(line)
