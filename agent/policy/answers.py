"""What a person's answer does: every answer to the chat question becomes a move here, with the same
clamps the agent's own decisions get (a strength that runs at least one denoising step, an action no
larger than the budget allows, an inpaint completed from its prompt).

    accept                    the current image is the answer
    continue                  the agent decides the next move
    stop                      the run ends; the best image is kept
    branch NODE               stand on any critiqued image of the tree, and ask again
    pick NODE                 choose one of the last variations (recorded as a preference)
    feedback "text"           a rewrite hint, then a rebuild by img2img at the rebuild strength
    vary [strength]           variations of the current image, to pick from
    region [x0,y0,x1,y1] "…"  repaint a region (its prompt written by the rewriter when not given)

An answer that cannot be taken comes back as ``route="ask"`` with the reason, and the question
stays open. Seeds are drawn by the node, as for the agent's own actions.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from agent.answers import Branch, Feedback, Pick, RedoRegion, Vary
from agent.contracts import Action
from agent.policy import strength
from agent.policy.config import Budget, PolicyConfig
from agent.policy.next_action import RewriteJob
from agent.policy.stopping import before_action, fit_budget, remaining_images
from agent.status import Status
from agent.tree import Tree


class AnswerMove(BaseModel):
    """What the graph does with an answer: ``route`` names the next node ("ask" asks again)."""

    route: Literal["finish", "decide", "ask", "generate", "rewrite_prompt"]
    reason: str = ""  # why the run stops, or why the answer was refused
    status: Status | None = None  # route "finish"
    action: Action | None = None  # routes "generate" and "rewrite_prompt"
    rewrite: RewriteJob | None = None
    current: str | None = None  # where the agent stands next, when the answer moves it
    best: str | None = None  # the answer's node, when the person accepts it


def take(answer, state: dict, cfg: PolicyConfig, budget: Budget, steps: int | None) -> AnswerMove:
    """The move ``answer`` (a typed answer of agent/answers.py) makes from ``state``."""
    tree = Tree(state["nodes"])
    current = state.get("current")
    kind = answer.action
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
        return AnswerMove(route="ask", current=answer.node)
    if isinstance(answer, Pick):
        batch = tree.last_batch()
        if len(batch) < 2 or answer.node not in batch:
            return AnswerMove(route="ask", reason="pick one of the last variations: "
                                                  f"{', '.join(batch) if len(batch) > 1 else 'none to pick from'}")
        return AnswerMove(route="decide", current=answer.node)
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
