"""What a person's answer does: every answer to the chat question becomes a move here, with the same
clamps the agent's own decisions get (a strength that runs at least one denoising step, an action no
larger than the budget allows, an inpaint completed from its prompt).

    accept                    the current image is the answer
    continue                  the agent decides the next move
    stop                      the run ends; the answer is the person's pick, else the best image
    branch NODE               stand on any critiqued image of the tree, and ask again (an image judged
                              before the person changed the brief is judged again first)
    pick NODE                 choose one of the last variations: it becomes current and is the answer
                              unless the person accepts another (recorded as a preference)
    feedback "text"           a rewrite hint, then a rebuild by img2img at the rebuild strength
    vary [strength]           variations of the current image, to pick from
    region [x0,y0,x1,y1] "…"  repaint a region (its prompt written by the rewriter when not given)
    amend change|brief        after an edit lost a requirement: keep the change (the brief lets it go,
                              policy/amend.py) or keep the brief (back where the edit started)

An answer that cannot be taken comes back as ``route="ask"`` with the reason, and the question
stays open. Seeds are drawn by the node, as for the agent's own actions.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent.answers import Amend, Branch, Feedback, Pick, RedoRegion, Vary
from agent.contracts import Action, Amendment
from agent.policy import amend, strength
from agent.policy.config import Budget, PolicyConfig
from agent.policy.next_action import RewriteJob
from agent.policy.stopping import before_action, fit_budget, remaining_images
from agent.status import Status
from agent.tree import Tree


class AnswerMove(BaseModel):
    """What the graph does with an answer: ``route`` names the next node ("ask" asks again)."""

    route: Literal["finish", "decide", "ask", "generate", "rewrite_prompt", "critique"]
    reason: str = ""  # why the run stops, or why the answer was refused
    status: Status | None = None  # route "finish"
    action: Action | None = None  # routes "generate" and "rewrite_prompt"
    rewrite: RewriteJob | None = None
    current: str | None = None  # where the agent stands next, when the answer moves it
    best: str | None = None  # the answer's node, when the person accepts it
    picked: str | None = None  # the person's pick: the answer unless they accept another
    amendment: Amendment | None = None  # the change to the brief the person keeps
    judge: list[str] = Field(default_factory=list)  # route "critique": images to judge (again)
    rejudge: bool = False  # ... against the changed brief only, with no edit to judge
    node_updates: dict[str, dict] = Field(default_factory=dict)


def take(answer, state: dict, cfg: PolicyConfig, budget: Budget, steps: int | None) -> AnswerMove:
    """The move ``answer`` (a typed answer of agent/answers.py) makes from ``state``."""
    tree = Tree(state["nodes"])
    current = state.get("current")
    kind = answer.action
    asked = state.get("amend_question")
    if isinstance(answer, Amend):
        return _amend(answer, asked)
    if kind == "continue" and asked:  # the agent must not decide what only the person can
        return AnswerMove(route="ask", reason=f"first say: {asked['question']} (keep your change, or keep the brief)")
    if kind not in ("continue", "stop", "branch") and (current not in tree or tree[current].critique is None):
        return AnswerMove(route="ask", reason="there is no image here yet: let the agent go on to make one")
    if kind == "accept":
        return AnswerMove(route="finish", status=Status.ACCEPTED, best=current, reason="accepted by the person")
    if kind == "stop":
        return AnswerMove(route="finish", status=Status.STOPPED, reason="stopped by the person")
    if kind == "continue":
        return AnswerMove(route="decide")
    if isinstance(answer, Branch):
        if answer.node not in tree or tree[answer.node].critique is None:
            return AnswerMove(route="ask", reason="continue from a critiqued image of this run, e.g. "
                                                  f"{', '.join(tree.imaged()[-3:])}")
        if amend.stale(tree[answer.node], state):  # judged against a brief the person has changed since
            return AnswerMove(route="critique", current=answer.node, judge=[answer.node], rejudge=True)
        return AnswerMove(route="ask", current=answer.node)
    if isinstance(answer, Pick):
        batch = tree.last_batch()
        if len(batch) < 2 or answer.node not in batch:
            return AnswerMove(route="ask", reason="pick one of the last variations: "
                                                  f"{', '.join(batch) if len(batch) > 1 else 'none to pick from'}")
        return AnswerMove(route="ask", current=answer.node, picked=answer.node)
    stop = before_action(state, cfg, budget)
    if stop:  # feedback, regions and variations make images: not past the budget
        return AnswerMove(route="ask", reason=f"{stop.reason}; accept, stop, or resume later with a larger --budget")
    if isinstance(answer, Feedback):
        action = Action(kind="img2img", strength=strength.runnable(strength.for_feedback(cfg), steps),
                        source="human", reason=f"feedback: {answer.text}")
        return AnswerMove(route="rewrite_prompt", action=action, rewrite="prompt")
    if isinstance(answer, Vary):
        asked = strength.for_person_vary(answer.strength, cfg)
        if strength.runnable(asked, steps) != asked:
            # Refused rather than raised behind the person's back: they chose that strength.
            return AnswerMove(route="ask", reason=f"strength {asked:g} makes no denoising step with {steps} steps; "
                                                  f"use at least {strength.runnable(asked, steps):g}")
        action = fit_budget(Action(kind="variations", n=cfg.variations_n, strength=asked, source="human",
                                   reason="the person asked for variations"),
                            remaining_images(state.get("spend", {}), budget))
        if action.kind == "variations":
            action = action.model_copy(update={"reason": f"the person asked for {action.n} variations"})
        return AnswerMove(route="generate", action=action)
    assert isinstance(answer, RedoRegion)
    action = Action(kind="inpaint", regions=[answer.region], prompt=answer.prompt or None,
                    strength=strength.provisional_inpaint(cfg), source="human",
                    reason="the person marked this region")
    if action.prompt:
        return AnswerMove(route="generate", action=strength.complete_inpaint(action, cfg, steps))
    return AnswerMove(route="rewrite_prompt", action=action, rewrite="region")


def _amend(answer: Amend, asked: dict | None) -> AnswerMove:
    """Keep the change (the amendment applies and the edit is judged against it) or keep the brief
    (back to where the edit started; the edit counts as having broken what held)."""
    if not asked:
        return AnswerMove(route="ask", reason="no change to the brief is waiting for your word")
    if answer.keep == "change":
        return AnswerMove(route="critique", amendment=Amendment.model_validate(asked["amendment"]),
                          judge=[asked["node"]], current=asked["origin"])
    return AnswerMove(route="ask", current=asked["origin"],
                      node_updates={asked["node"]: {"outcome": "drift", "lost": asked.get("lost", [])}})
