"""A critic that asks a model for structured judgements: a checklist, verdicts with evidence and
regions, pairwise and listwise comparisons, drift between two images.

The same code serves a model behind an OpenAI-compatible server (``openai:MODEL``) and a model on
this machine in judge mode (``hf:PATH --critic-option mode=judge``): only the client differs (its
transport), so both are validated and re-asked alike (:mod:`agent.vlm.structured`). Prompts are the
versioned templates in ``prompts/``; the client's errors become the critic's own.

A model's judgement can depend on which image it sees first, so ``order_invariant`` is False and
:meth:`Critic.compare` asks both orders, reporting disagreement as a tie.
"""
from __future__ import annotations

from PIL import Image

from agent.contracts import Critique, Defect, DriftReport, Ranking, Recommendation, Requirement, Verdict
from agent.critics.base import Critic, Plan, critic_error
from agent.vlm.errors import ModelError
from agent.vlm.grammar import choose_from, numbered, one_per_id
from agent.vlm.regions import detect_convention, family_convention, to_region
from agent.vlm.schema import CritiqueReply, DriftReply, PairReply, PlanReply, RankReply
from agent.vlm.structured import Answer, ChatRequest, StructuredClient
from agent.vlm.templates import brief_block, checklist_block, load_template
from tools.errors import InputError

# plan@2 asks for the object each requirement is about (Requirement.group).
PLAN_VERSION = 2
PLAN_MOST = 10  # requirements a constrained decoder may write (ids r1..r10); a server may write more


class JudgeCritic(Critic):
    exact = False
    order_invariant = False

    def __init__(self, client: StructuredClient, name: str):
        self.client = client
        self.settings = client.settings
        self.model = client.transport.model
        self.name = name

    # -- helpers ---------------------------------------------------------------------------------
    def _ask(self, request: ChatRequest, reply_model, validate=None) -> Answer:
        try:
            return self.client.ask(request, reply_model, validate)
        except ModelError as exc:
            raise critic_error(exc) from None

    def _notes(self, answer: Answer) -> list[str]:
        """Notes a plan carries besides its template and the model's own (a missing price)."""
        return []

    def _convention(self, boxes: list, size: tuple[int, int]) -> str:
        if self.settings.box_format != "auto":
            return self.settings.box_format
        return detect_convention(boxes, size, hint=family_convention(self.model))

    @staticmethod
    def _require(checklist: list[Requirement]) -> list[str]:
        if not checklist:
            raise InputError("the checklist is empty; plan the brief first")
        return [r.id for r in checklist]

    # -- the protocol ----------------------------------------------------------------------------
    def plan(self, brief: str) -> Plan:
        if not brief or not brief.strip():
            raise InputError("the brief is empty; describe the image you want")
        template = load_template("plan", PLAN_VERSION)
        system, user = template.render(brief=brief_block(brief))

        def validate(reply: PlanReply, _sizes) -> None:
            ids = [r.id for r in reply.checklist]
            if len(set(ids)) != len(ids):
                raise ValueError(f"checklist ids must be unique; repeated: "
                                 f"{sorted({i for i in ids if ids.count(i) > 1})}")

        request = ChatRequest(system, user, constraints={"checklist": numbered("r", PLAN_MOST)})
        answer = self._ask(request, PlanReply, validate)
        reply = answer.value
        # Plan has no prompt_version field, so the template goes first in the notes.
        notes = [template.id, reply.notes, *self._notes(answer)]
        return Plan(checklist=[Requirement(id=r.id, text=r.text, kind=r.kind, group=r.group or None)
                               for r in reply.checklist],
                    prompt=reply.prompt, negative_prompt=reply.negative_prompt or None, usage=answer.usage,
                    notes="; ".join(n for n in notes if n))

    def critique(self, image: Image.Image, brief: str, checklist: list[Requirement]) -> Critique:
        ids = self._require(checklist)
        template = load_template("critique")
        system, user = template.render(brief=brief_block(brief), checklist=checklist_block(checklist))

        def validate(reply: CritiqueReply, _sizes) -> None:
            got = [v.id for v in reply.verdicts]
            missing = [i for i in ids if i not in got]
            unknown = [i for i in got if i not in ids]
            repeated = sorted({i for i in got if got.count(i) > 1})
            if missing or unknown or repeated:
                raise ValueError("answer every checklist id exactly once: "
                                 + "; ".join(p for p in (missing and f"missing {missing}",
                                                         unknown and f"not in the checklist {unknown}",
                                                         repeated and f"repeated {repeated}") if p))

        request = ChatRequest(system, user, [image], constraints={
            "verdicts": one_per_id(ids), "defects.items.requirement_ids.items": choose_from(ids)})
        answer = self._ask(request, CritiqueReply, validate)
        reply, size = answer.value, answer.sizes[0]
        boxes = [v.box for v in reply.verdicts] + [d.box for d in reply.defects]
        if reply.recommended is not None:
            boxes.append(reply.recommended.box)
        conv = self._convention([b for b in boxes if b is not None], size)
        by_id = {v.id: v for v in reply.verdicts}
        verdicts = [Verdict(id=i, passed=by_id[i].passed, confidence=by_id[i].confidence,
                            evidence=by_id[i].evidence,
                            # A passed requirement needs no fix, so a box on it is dropped.
                            region=None if by_id[i].passed else to_region(by_id[i].box, conv, size))
                    for i in ids]
        defects = [Defect(kind=d.kind, description=d.description, region=to_region(d.box, conv, size),
                          requirement_ids=[i for i in d.requirement_ids if i in ids], prompt=d.prompt or None)
                   for d in reply.defects]
        recommended = None
        if (rec := reply.recommended) is not None:
            recommended = Recommendation(kind=rec.kind, strength=rec.strength, region=to_region(rec.box, conv, size),
                                         prompt=rec.prompt or None, reason=rec.reason)
        return Critique(verdicts=verdicts, score=reply.score, defects=defects, recommended=recommended,
                        summary=reply.summary, critic=self.name, prompt_version=template.id, usage=answer.usage)

    def judge_pair(self, first: Image.Image, second: Image.Image, brief: str,
                   checklist: list[Requirement]) -> Ranking:
        self._require(checklist)
        template = load_template("compare")
        system, user = template.render(brief=brief_block(brief), checklist=checklist_block(checklist))
        request = ChatRequest(system, user, [first, second], labels=["First image:", "Second image:"])
        answer = self._ask(request, PairReply)
        better = answer.value.better
        return Ranking(order=[1, 0] if better == "second" else [0, 1], tie=better == "tie",
                       reason=answer.value.reason, critic=self.name, prompt_version=template.id,
                       usage=answer.usage)

    def rank(self, images: list[Image.Image], brief: str, checklist: list[Requirement],
             critiques: list[Critique] | None = None) -> Ranking:
        """Best first, in one listwise call; two images go through :meth:`compare` (both orders)."""
        self._require(checklist)
        if not images:
            raise InputError("nothing to rank: no images")
        if len(images) == 1:
            return Ranking(order=[0], critic=self.name, reason="one image")
        if len(images) == 2:
            return self.compare(images[0], images[1], brief, checklist)
        n = len(images)
        template = load_template("rank")
        system, user = template.render(brief=brief_block(brief), checklist=checklist_block(checklist), count=n)

        def validate(reply: RankReply, _sizes) -> None:
            if sorted(reply.order) != list(range(1, n + 1)):
                raise ValueError(f"order must list each image number 1..{n} exactly once, got {reply.order}")
            if reply.scores is not None and (len(reply.scores) != n or any(not 0 <= s <= 1 for s in reply.scores)):
                raise ValueError(f"scores must be {n} numbers between 0 and 1, one per image, or null")

        answer = self._ask(ChatRequest(system, user, list(images)), RankReply, validate)
        return Ranking(order=[i - 1 for i in answer.value.order], scores=answer.value.scores,
                      reason=answer.value.reason, critic=self.name, prompt_version=template.id,
                      usage=answer.usage)

    def drift(self, before: Image.Image, after: Image.Image, brief: str, checklist: list[Requirement],
              held: list[str], after_critique: Critique | None = None) -> DriftReport:
        """Both images go to the model: losses are judged side by side, not from a separate critique."""
        ids = self._require(checklist)
        unknown = [h for h in held if h not in ids]
        if unknown:
            raise InputError(f"held ids {unknown} are not in the checklist")
        if not held:
            return DriftReport(evidence="nothing held at the branch point")
        template = load_template("drift")
        held_reqs = [r for r in checklist if r.id in held]
        system, user = template.render(brief=brief_block(brief), held=checklist_block(held_reqs, tag="held"))

        def validate(reply: DriftReply, _sizes) -> None:
            stray = [i for i in reply.lost if i not in held]
            if stray:
                raise ValueError(f"lost may name only held ids {held}; {stray} are not among them")

        request = ChatRequest(system, user, [before, after], labels=["Before the edit:", "After the edit:"])
        answer = self._ask(request, DriftReply, validate)
        lost = [h for h in held if h in answer.value.lost]
        return DriftReport(lost=lost, evidence=answer.value.evidence, usage=answer.usage)
