"""Hand-built graph states for the policy's unit tests: a brief, its checklist, one critiqued node."""
from __future__ import annotations

from agent.policy import Budget
from agent.tree import ROOT
from tools.shapes.parse import parse_brief

BRIEF = parse_brief("a red circle to the left of a blue square, yellow background")
CHECKLIST = [r.model_dump(mode="json") for r in BRIEF.requirements()]
IDS = [r["id"] for r in CHECKLIST]  # g0.object, g1.object, g0.left_of.g1, background
BOX = {"x0": 0.1, "y0": 0.1, "x1": 0.4, "y1": 0.4}


def crit(failed=(), defects=(), score=None, recommended=None, regions=None):
    """A compact critique (CritiqueSummary dict) failing ``failed``."""
    passed = [i for i in IDS if i not in failed]
    return {"score": score if score is not None else len(passed) / len(IDS), "passed": passed,
            "failed": list(failed), "defects": list(defects), "regions": regions or {},
            "recommended": recommended, "file": None}


def state(node_crit, **extra):
    """A state standing on n1 (a txt2img from the root) with critique ``node_crit``."""
    nodes = {ROOT: {"id": ROOT}, "n1": {"id": "n1", "seq": 1, "parent": ROOT, "origin": ROOT,
                                        "image": "images/x.png", "critique": node_crit, **extra.pop("node", {})}}
    return {"brief": BRIEF.text(), "prompt": BRIEF.text(), "checklist": CHECKLIST, "nodes": nodes,
            "current": "n1", "best": "n1", "spend": {"generations": 1}, "since_best": 0, **extra}


BUDGET = Budget(generations=8)
