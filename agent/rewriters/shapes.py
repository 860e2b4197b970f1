"""The offline, rule-based rewriter.

For shapes briefs it restates the failing objects first: the text encoder reads left to right
(CLIP's attention is causal), so what comes first binds its colour, shape and place most
reliably. Groups joined by a relation stay adjacent; reversing a pair inverts the relation
("A left of B" becomes "B right of A"), so the meaning never changes. For free-form briefs it
puts the failed requirements' texts in front of the prompt and drops clauses that repeat them.
"""
from __future__ import annotations

from itertools import permutations

from agent.contracts import Critique, Defect, Requirement
from agent.rewriters.base import Rewrite, Rewriter
from tools.errors import BriefError
from tools.shapes.brief import Brief
from tools.shapes.parse import parse_brief
from tools.shapes.vocab import cell_of

INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above", None: None}


def _orderings(brief: Brief) -> list[Brief]:
    """Every order of the groups that keeps related groups adjacent, as equivalent briefs."""
    n = len(brief.groups)
    rel = {}
    for i, link in enumerate(brief.links):
        if link:
            rel[(i, i + 1)] = link
            rel[(i + 1, i)] = INVERSE[link]
    out = []
    for order in permutations(range(n)):
        links = [rel.get((a, b)) for a, b in zip(order, order[1:])]
        # Every stated relation must survive as a link between neighbours.
        kept = {frozenset((a, b)) for a, b, link in zip(order, order[1:], links) if link}
        if kept == {frozenset(k) for k in rel}:
            out.append(Brief(groups=[brief.groups[i] for i in order], links=links, background=brief.background))
    return out


def _failing_groups(critique: Critique | None) -> list[int]:
    if critique is None:
        return []
    groups: list[int] = []
    for rid in critique.failed_ids:
        head = rid.split(".")[0]
        if head.startswith("g") and head[1:].isdigit() and int(head[1:]) not in groups:
            groups.append(int(head[1:]))
    return groups


class RulesRewriter(Rewriter):
    name = "rules"

    def rewrite(self, brief: str, checklist: list[Requirement], critique: Critique | None, current_prompt: str,
                tried: list[str], hints: list[str] | None = None, image=None) -> Rewrite:
        tried_set = set(tried) | {current_prompt}
        for hint in reversed(hints or []):
            try:
                text = parse_brief(hint).text()
            except BriefError:
                continue
            if text not in tried_set:
                return Rewrite(prompt=text, reason="the person's feedback, read as a brief")
        try:
            parsed = parse_brief(brief)
        except BriefError:
            return self._free_text(checklist, critique, current_prompt, tried_set)
        failing = _failing_groups(critique)
        originals = {id(g): i for i, g in enumerate(parsed.groups)}

        def rank(b: Brief) -> tuple:
            pos = [originals[id(g)] for g in b.groups]
            # Failing groups as early as possible, then the original order.
            return tuple(pos.index(f) if f in pos else 99 for f in failing) + tuple(pos)

        for candidate in sorted(_orderings(parsed), key=rank):
            text = candidate.text()
            if text not in tried_set:
                first = candidate.groups[0].phrase()
                return Rewrite(prompt=text, reason=f"restated with '{first}' first")
        return Rewrite(prompt=None, reason="every equivalent order of the brief has been tried")

    def _free_text(self, checklist, critique, current_prompt, tried_set) -> Rewrite:
        texts = {r.id: r.text for r in checklist}
        failed = [texts[f] for f in (critique.failed_ids if critique else []) if f in texts]
        rest = [c.strip() for c in current_prompt.split(",") if c.strip() and c.strip() not in failed]
        text = ", ".join(failed + rest)
        if not failed or text in tried_set:
            return Rewrite(prompt=None, reason="no failed requirement left to move forward")
        return Rewrite(prompt=text, reason=f"failed requirements first: {'; '.join(failed)}")

    def region_prompt(self, brief: str, checklist: list[Requirement], defect: Defect, critique: Critique | None,
                      current_prompt: str, image=None) -> Rewrite:
        if defect.prompt:
            return Rewrite(prompt=defect.prompt, reason="what the critic says belongs there")
        try:
            parsed = parse_brief(brief)
        except BriefError:
            texts = {r.id: r.text for r in checklist}
            wanted = [texts[i] for i in defect.requirement_ids if i in texts]
            return Rewrite(prompt=", ".join(wanted) or current_prompt, reason="the failed requirements")
        background = f", {parsed.background} background" if parsed.background else ""
        groups: list[int] = []
        for rid in defect.requirement_ids:
            head = rid.split(".")[0]
            if head.startswith("g") and head[1:].isdigit():
                groups.append(int(head[1:]))
        if defect.kind == "remove" or not groups or defect.region is None:
            return Rewrite(prompt=(parsed.background or "plain") + " background", reason="clear the region")
        g = parsed.groups[groups[0]]
        phrase = g.model_copy(update={"count": 1, "position": cell_of(*defect.region.center)}).phrase()
        return Rewrite(prompt=phrase + background, reason=f"draw {g.noun()} in the region")


    def layout_prompt(self, brief: str, checklist: list[Requirement], layout: dict, current_prompt: str) -> Rewrite:
        """The brief with each object's planned cell stated ('at bottom left'): the shapes model was
        trained on briefs that say where things are. A group whose objects are planned in different
        cells keeps its own wording."""
        try:
            parsed = parse_brief(brief)
        except BriefError:
            return super().layout_prompt(brief, checklist, layout, current_prompt)
        cells: dict[int, set[str]] = {}
        for blob in layout.get("blobs", []):
            x0, y0, x1, y1 = blob["box"]
            cells.setdefault(int(str(blob["group"])[1:]), set()).add(cell_of((x0 + x1) / 2, (y0 + y1) / 2))
        groups = [g if g.position or len(cells.get(i, ())) != 1 else g.model_copy(update={"position": next(iter(cells[i]))})
                  for i, g in enumerate(parsed.groups)]
        text = Brief(groups=groups, links=parsed.links, background=parsed.background).text()
        if text == parsed.text():
            return Rewrite(prompt=None, reason="the layout adds nothing the brief does not say")
        return Rewrite(prompt=text, reason="where each object goes, said in the prompt")


def make_rules_rewriter(arg: str = "", **_) -> RulesRewriter:
    return RulesRewriter()
