"""What to do next: from the current node's critique to the next action, with a reason.

In order, the first that applies and is allowed (not tabu, not tried too often, within budget):
- every requirement passes and the score reaches ``accept_score`` -> **accept** (checked first: the
  image that spent the last of the budget may be the one that passes) — but a critic that can be
  wrong is asked to confirm first: a **witness** (one variation at ``witness_strength``, which keeps
  everything) is judged too, and only an image it confirms is accepted (policy/outcome.py); a lone
  failure is checked the same way before it is repaired (``confirm_failure``);
- a stop (policy/stopping.py);
- no image yet -> **txt2img** from the prompt;
- the critic's own recommendation, when ``follow_critic`` is on and the rules allow it;
- a plateau under an image budget, or an image whose edits keep failing (``edits_per_node``
  unproductive edits) -> a new image (**txt2img** with a rewritten prompt): past that point a fresh
  sample is the better bet, which is all that sampling more does;
- failures confined to regions while the rest holds -> **inpaint** them, one object group at a time;
- a near miss (score >= ``near_miss``) with no region to blame, or every requirement passing but
  the score still low -> **variations** at low strength; never for a failed position, relation or
  count: low-strength variations keep the layout, so they cannot fix those;
- something holds -> rewrite the prompt and rebuild with **img2img** at high strength, unless what
  fails is only layout (where, how many, how big), which a rebuild keeps (``rebuild_layout``);
- otherwise -> rewrite the prompt and start a new image (**txt2img**).
The strengths come from policy/strength.py.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from agent.contracts import Action
from agent.policy import belief, moves, person, strength
from agent.policy.advice import from_recommendation
from agent.policy.config import Budget, PolicyConfig
from agent.policy.stopping import before_action, budget_spent, fit_budget, nothing_left, plateaued, remaining_images
from agent.policy.tabu import why_banned
from agent.status import Status
from agent.tree import ROOT, CritiqueSummary, Tree, TreeNode

GLOBAL_KINDS = {"background", "style"}
# Failures of where things are, how many and how big: low-strength variations keep the layout and
# sizes, and a rebuild keeps the broad layout, so neither fixes these; a repaint or a fresh sample can.
LAYOUT_KINDS = {"position", "relation", "count", "size"}

RewriteJob = Literal["prompt", "region", "layout"]


class Decision(BaseModel):
    """The next move: generate an action (after a rewrite, if ``rewrite`` says what to write),
    accept the current node, or stop with a status."""

    route: Literal["generate", "accept", "stop"]
    action: Action | None = None
    rewrite: RewriteJob | None = None
    reason: str = ""
    notes: list[str] = Field(default_factory=list)
    status: Status | None = None  # route "stop"


def next_move(state: dict, cfg: PolicyConfig, budget: Budget, trust_critic: bool = True,
           steps: int | None = None) -> Decision:
    """The next move at the current node. ``trust_critic``: the critic is ground truth (the exact
    shapes critic); a model critic is not, and its passes are confirmed before they are accepted.
    ``steps``: the sampler's steps, below which no strength may go (policy/strength.py)."""
    d = person.instead_of_fresh(_next_move(state, cfg, budget, trust_critic, steps), state, cfg, budget, steps)
    if d.action is not None:  # witnesses and first images
        d.action = _runnable(d.action, steps)
    return d


def _next_move(state: dict, cfg: PolicyConfig, budget: Budget, trust_critic: bool, steps: int | None) -> Decision:
    tree = Tree(state["nodes"])
    cur_id = state.get("current") or ROOT
    node = tree[cur_id]
    crit = node.critique
    worst = min(belief.margins(node).values(), default=-1)
    can_witness = _can_witness(node, state, cfg, budget, trust_critic)
    if crit and worst > 0 and belief.score(node) >= cfg.accept_score:
        if can_witness and not node.witnesses:
            return _witness(state, cur_id, cfg, f"all {len(belief.passed(node))} requirements pass; a light redraw is "
                                                "judged too, to confirm before accepting")
        confirmed = f" and {len(node.witnesses)} light redraw(s) confirmed it" if belief.confirmed(node) else ""
        return Decision(route="accept", reason=f"all {len(belief.passed(node))} requirements pass (score "
                                               f"{belief.score(node):.2f}){confirmed}")
    if crit and worst == 0 and can_witness:
        return _witness(state, cur_id, cfg, f"a redraw disagreed on {', '.join(belief.ties(node))}: one more look decides")
    # Not at a witness itself: its failures are already the second look at the image it redrew.
    is_witness = node.action is not None and node.action.check is not None
    if crit and can_witness and cfg.confirm_failure and not node.witnesses and not is_witness \
            and len(belief.failed(node)) == 1:
        return _witness(state, cur_id, cfg, f"only {belief.failed(node)[0]} fails: a light redraw is judged too, to "
                                            "check the failure before repairing it")
    stop = before_action(state, cfg, budget)
    if stop:
        return Decision(route="stop", status=stop.status, reason=stop.reason)
    if crit is None and cfg.plan_layout and not node.image and (why := moves.impossible(state["checklist"])):
        return Decision(route="stop", status=Status.EXHAUSTED, reason=why)  # before spending anything on it
    if crit is None:  # no image yet (or its critique failed): a new one; a person's own image is edited
        action = Action(kind="txt2img", prompt=state["prompt"], negative_prompt=state.get("negative_prompt"))
        banned = why_banned(tree[ROOT], action, cfg)
        if banned:
            return Decision(route="stop", status=Status.EXHAUSTED,
                            reason=f"cannot make a first image: txt2img is {banned}")
        return Decision(route="generate", action=action, reason="first image from the prompt"
                        if not node.image else "the current image has no critique; start afresh")
    notes: list[str] = []
    for action, why, rewrite in _candidates(state, tree, node, crit, cfg, notes):
        action = _runnable(action, steps)  # before the tabu check: what is banned is what would run
        banned = why_banned(node if not action.fresh else tree[ROOT], action, cfg)
        if banned:
            notes.append(f"skipped {action.kind}: {banned}")
            continue
        action = fit_budget(action, remaining_images(state.get("spend", {}), budget))
        if action is None:
            notes.append("skipped an action larger than the remaining budget")
            continue
        return Decision(route="generate", action=action.model_copy(update={"reason": why}), rewrite=rewrite,
                        reason=why, notes=notes)
    stop = nothing_left()
    return Decision(route="stop", status=stop.status, reason=stop.reason, notes=notes)


def _runnable(action: Action, steps: int | None) -> Action:
    """The action (and its second step) at strengths that run at least one denoising step."""
    update = {}
    if action.strength is not None:
        update["strength"] = strength.runnable(action.strength, steps)
    if action.then is not None:
        update["then"] = _runnable(action.then, steps)
    return action.model_copy(update=update) if update else action


def _can_witness(node: TreeNode, state: dict, cfg: PolicyConfig, budget: Budget, trust_critic: bool) -> bool:
    # Every budget, not only images: a witness past the time or money limit would overrun it.
    return (cfg.confirm_accept and not trust_critic and len(node.witnesses) < cfg.max_witnesses
            and remaining_images(state.get("spend", {}), budget) >= 1
            and budget_spent(state.get("spend", {}), budget) is None)


def _witness(state: dict, node_id: str, cfg: PolicyConfig, why: str) -> Decision:
    """One variation at witness_strength: the same picture, for the critic to judge again."""
    action = Action(kind="variations", n=1, strength=cfg.witness_strength, check=node_id, reason=why,
                    negative_prompt=state.get("negative_prompt"))
    return Decision(route="generate", action=action, reason=why)


def unproductive_edits(node: TreeNode) -> int:
    """Edits of this image that made no progress or drifted (restarts from it are not its edits)."""
    return sum(n for kind, n in node.failures.items() if kind != "txt2img")


def _candidates(state: dict, tree: Tree, node: TreeNode, crit: CritiqueSummary, cfg: PolicyConfig,
                notes: list[str]) -> list[tuple[Action, str, RewriteJob | None]]:
    """Every action the rules would take at this node, best first: (action, reason, rewrite job)."""
    out: list[tuple[Action, str, RewriteJob | None]] = []
    negative = state.get("negative_prompt")
    failed = belief.failed(node)
    if cfg.follow_critic and crit.recommended:
        action, note = from_recommendation(node, crit, cfg)
        if note:
            notes.append(note)
        if action is not None:
            job: RewriteJob | None = "region" if action.kind == "inpaint" and not action.prompt else (
                "prompt" if action.kind in ("txt2img", "img2img") and not action.prompt else None)
            out.append((action, note, job))
    if plateaued(state, cfg):
        out.append(_fresh(state, tree, cfg, f"plateau: no better image in {state['since_best']} steps; start a "
                                            "new image"))
    spent = unproductive_edits(node)
    if spent >= cfg.edits_per_node:
        notes.append(f"{spent} edits of this image made no progress")
        return out + [_fresh(state, tree, cfg, f"{spent} edits of this image made no progress: a fresh sample is "
                                               "the better bet; start a new image")]
    # Where things are: the move toward each layout that satisfies the whole scene, before the
    # critic's own per-requirement fixes (policy/moves.py).
    out.extend((action, why, None) for action, why in moves.moves(state["checklist"], crit, failed, cfg))
    local = _local_fix(state, node, crit, cfg, notes)
    if local:
        action, why = local
        out.append((action, why, None if action.prompt else "region"))
    kinds = {r["id"]: r.get("kind", "other") for r in state["checklist"]}
    global_fail = any(kinds.get(f) in GLOBAL_KINDS for f in failed)
    polish = not failed  # every requirement holds, the critic still marks it down
    if polish and belief.score_is_certainty(node):
        # A VQAScore is the critic's certainty, not a mark for visible flaws: light redraws keep what
        # it is unsure of and leave the score where it was (under the shapes critic, 287 of 719
        # images went to such polishing). A fresh sample is the better bet; this image stays the best
        # so far, and one the critic is sure of is accepted.
        out.append(_fresh(state, tree, cfg, f"every requirement passes but the critic is unsure (VQAScore "
                                            f"{belief.score(node):.2f}, below {cfg.accept_score:g}); redraws "
                                            "would not change that: keep this image and start a new one"))
    layout_fail = any(kinds.get(f) in LAYOUT_KINDS for f in failed)
    only_layout = bool(failed) and all(kinds.get(f) in LAYOUT_KINDS for f in failed)
    if polish or (belief.score(node) >= cfg.near_miss and not global_fail and not layout_fail):
        s = strength.for_edit(node, "variations", cfg)
        why = (f"every requirement passes but the critic rates it {belief.score(node):.2f}: polish with" if polish else
               f"near miss (score {belief.score(node):.2f}) with no region to blame:")
        # prompt=None: the node's own prompt, which may be a rewrite or carry the person's feedback.
        out.append((Action(kind="variations", n=cfg.variations_n, strength=s, negative_prompt=negative),
                    f"{why} {cfg.variations_n} variations at strength {s}", None))
    if belief.passed(node) and not (only_layout and not cfg.rebuild_layout):
        s = strength.for_edit(node, "img2img", cfg)
        out.append((Action(kind="img2img", strength=s, negative_prompt=negative),
                    (f"global failure ({', '.join(failed)})" if failed else
                     "polishing by variations is exhausted") +
                    f": rewrite the prompt and rebuild at strength {s}, keeping what holds", "prompt"))
    elif belief.passed(node):
        notes.append("no rebuild: what fails is layout, which a rebuild keeps")
    out.append(_fresh(state, tree, cfg, f"{'nothing holds' if not belief.passed(node) else 'other fixes exhausted'}"
                                        ": start a new image"))
    return out


def _fresh(state: dict, tree: Tree, cfg: PolicyConfig, why: str) -> tuple[Action, str, RewriteJob | None]:
    """A new image: from a rewritten prompt, or (``fresh_from``) from a planned layout of the whole
    scene, each fresh sample from another of the planner's layouts — a txt2img whose prompt states
    where things go, or an img2img from a sketch of it at ``sketch_strength``."""
    negative = state.get("negative_prompt")
    starts = sum(1 for i in tree.children(ROOT) if tree[i].action is not None and tree[i].action.fresh)
    plan = None if cfg.fresh_from == "prompt" else moves.fresh_layout(state["checklist"], starts)
    if plan is None:
        return Action(kind="txt2img", negative_prompt=negative), f"{why} from a rewritten prompt", "prompt"
    if cfg.fresh_from == "sketch":
        return (Action(kind="img2img", prompt=state["prompt"], strength=cfg.sketch_strength, layout=plan,
                       negative_prompt=negative), f"{why} from a sketch of a layout where everything holds", None)
    return (Action(kind="txt2img", layout=plan, negative_prompt=negative),
            f"{why} from a prompt that says where each object goes", "layout")


def _local_fix(state: dict, node: TreeNode, crit: CritiqueSummary, cfg: PolicyConfig,
               notes: list[str]) -> tuple[Action, str] | None:
    """An inpaint of the regions where the failures are, one object group at a time."""
    requirements = {r["id"]: r for r in state["checklist"]}
    failed = belief.failed(node)
    # "Confined to a region while the rest passes": a global requirement failing, or too little
    # holding to build on, makes it a global failure, whatever regions the critic offers.
    if any(requirements.get(f, {}).get("kind", "other") in GLOBAL_KINDS for f in failed) \
            or belief.score(node) < cfg.local_min_score:
        return None
    # Defects of requirements the agent believes hold (a failure the pixels contradict) are not fixed.
    defects = [d for d in crit.defects if d.region and d.kind != "global"
               and (not d.requirement_ids or any(r in failed for r in d.requirement_ids))]
    if not defects:
        # A critic that gives verdict regions but no defects: repaint those regions.
        if not crit.regions:
            return None
        from agent.contracts import Defect

        defects = [Defect(kind="replace", description="", region=r, requirement_ids=[k])
                   for k, r in crit.regions.items() if k in failed]

    def group_of(requirement_id: str) -> str:
        # The planner's group (the object a requirement is about); a requirement without one stands alone.
        return requirements.get(requirement_id, {}).get("group") or requirement_id

    groups: dict[str, list] = {}
    for d in defects:
        groups.setdefault(group_of((d.requirement_ids or ["?"])[0]), []).append(d)
    first_failure = {}
    for i, f in enumerate(failed):
        first_failure.setdefault(group_of(f), i)
    # The group with the most failed requirements first, then the one that failed first.
    order = sorted(groups, key=lambda g: (-len({r for d in groups[g] for r in d.requirement_ids}),
                                          first_failure.get(g, len(failed))))
    for g in order:
        ds = groups[g]
        area = sum(d.region.area for d in ds)
        if area > cfg.max_region_area:
            notes.append(f"no inpaint for {g}: its regions cover {area:.0%} of the image")
            continue
        adds = [d for d in ds if d.kind != "remove"]
        prompt = (adds or ds)[0].prompt
        # Where something is to be drawn comes first: a colour guide centres its blob there.
        regions = [d.region for d in adds + [d for d in ds if d not in adds]]
        action = Action(kind="inpaint", prompt=prompt, regions=regions, keep=moves.neighbours(crit, g, regions, cfg),
                        strength=strength.provisional_inpaint(cfg),
                        reason="; ".join(d.description for d in ds))
        if prompt is not None:
            action = strength.complete_inpaint(action, cfg)
        banned = why_banned(node, action, cfg)
        if banned:
            notes.append(f"skipped inpaint for {g}: {banned}")
            continue
        what = ", ".join(sorted({r for d in ds for r in d.requirement_ids}))
        return action, f"local failure ({what}) confined to {len(regions)} region(s) covering {area:.0%}"
    return None
