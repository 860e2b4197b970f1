"""The decision rules: from the current node's critique to the next action, with a reason.

Rules follow the design: every requirement met -> accept; failures confined to regions ->
inpaint them; a near miss with no region to blame -> variations at low strength; a global
failure -> rewrite the prompt and rebuild (img2img at high strength, or txt2img when nothing is
right). Strength adapts per node. A critic's recommendation is validated by the same rules and
may be overridden; the reason for every decision is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from agent.contracts import Action, Region
from agent.state import RunState

ROOT = "root"  # the tree's root: the brief itself, no image; every txt2img hangs from it
LOCAL_KINDS = {"object", "attribute", "count", "position", "relation", "text", "other"}
GLOBAL_KINDS = {"background", "style"}
# Failures of where things are or how many there are: low-strength variations keep the layout, so
# they cannot fix these; a local repaint or a rebuild can.
LAYOUT_KINDS = {"position", "relation", "count"}


@dataclass(frozen=True)
class PolicyConfig:
    # All requirements pass and the score reaches this. An exact critic scores an all-pass image 1.0;
    # a model critic may mark one down for visible flaws, and below this the agent polishes.
    accept_score: float = 0.8
    near_miss: float = 0.75  # score from which a failure with no region is a near miss
    variations_n: int = 3
    variation_strength: float = 0.35
    rebuild_strength: float = 0.8
    strength_step: float = 0.15
    min_strength: float = 0.2
    max_strength: float = 0.95
    max_region_area: float = 0.5  # fixes covering more of the image than this are not local
    local_min_score: float = 0.34  # below this too little holds for a local fix to build on
    retries: int = 2  # tries of one kind of action at one node before it is tabu there
    plateau_k: int = 5  # stop after this many steps without a better node
    stagnation_k: int = 3  # backtrack after this many steps below the best node
    inpaint_strength: float = 1.0
    # Prime an inpaint region with the colours its prompt names (agent/guides.py), then denoise at
    # this strength: a checkpoint without an inpainting UNet otherwise tends to leave it empty.
    inpaint_guide: bool = True
    guided_inpaint_strength: float = 0.5
    pad: float = 0.02
    feather: float = 1.5
    max_critic_failures: int = 2
    # Take the critic's own recommended action (validated by these rules) before the rules' choice.
    # Off by default: the rules are the policy; a VLM's advice is an option, not the default.
    follow_critic: bool = False


@dataclass
class Decision:
    route: str  # generate | rewrite | accept | stop
    action: Action | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    status: str | None = None  # for route == "stop"
    job: str | None = None  # for route == "rewrite": "prompt" or "region"


def class_key(action: Action) -> str:
    """An action's kind and shape without prompt or seed: what the tabu list and retry count track,
    so rewording a prompt or drawing a new seed does not make a failed move look new."""
    return action.key(with_seed=False, with_prompt=False)


def inpaint_strength(cfg: PolicyConfig) -> float:
    return cfg.guided_inpaint_strength if cfg.inpaint_guide else cfg.inpaint_strength


def is_banned(node: dict, action: Action, cfg: PolicyConfig) -> str | None:
    """Why an action may not be taken at a node (tabu after drift, or tried too often), or None.

    Exact repeats need no check: every action draws fresh seeds from a counter that only grows.
    """
    key = class_key(action)
    if key in node.get("tabu", []):
        return "tabu here"
    if action.kind != "txt2img" and node.get("tries", {}).get(key, 0) >= cfg.retries:
        return f"tried {cfg.retries} times here without progress"
    if action.kind in ("img2img", "variations"):
        # Strength adapts after each failure, which makes a new key; the kind still gets only so
        # many failures at one node.
        failures = sum(v for k, v in node.get("tries", {}).items() if k.split("|")[0] == action.kind) + \
            sum(1 for k in node.get("tabu", []) if k.split("|")[0] == action.kind)
        if failures >= cfg.retries:
            return f"{action.kind} failed {failures} times here"
    return None


def stop_check(state: RunState, cfg: PolicyConfig, budget: dict) -> tuple[str, str] | None:
    """(status, reason) when the run must stop before another action, else None."""
    spend = state.get("spend", {})
    limits = (("generations", "generator calls"), ("seconds", "seconds of wall time"),
              ("usd", "dollars of critic cost"), ("tokens", "critic tokens"))
    for key, what in limits:
        cap = budget.get(key)
        if cap is not None and spend.get(key, 0) >= cap:
            return "budget", f"budget spent: {spend.get(key, 0):g} of {cap:g} {what}"
    if plateaued(state, cfg) and budget.get("generations") is None:
        # With a generation budget the agent restarts instead (decide): the budget is what the
        # person chose to spend, and a fresh image is the best use of what remains.
        return "plateau", f"plateau: no better image in {state['since_best']} steps"
    return None


def plateaued(state: RunState, cfg: PolicyConfig) -> bool:
    return bool(state.get("best")) and state.get("since_best", 0) >= cfg.plateau_k


def _strength(node: dict, kind: str, default: float, cfg: PolicyConfig) -> float:
    s = node.get("strengths", {}).get(kind, default)
    return round(min(cfg.max_strength, max(cfg.min_strength, s)), 2)


def _local_fix(state: RunState, node: dict, cfg: PolicyConfig, notes: list[str]) -> tuple[Action, str] | None:
    """An inpaint of the regions where the failures are, one object group at a time."""
    crit = node["critique"]
    kinds = {r["id"]: r.get("kind", "other") for r in state["checklist"]}
    failed = crit["failed"]
    # "Confined to a region while the rest passes": a global requirement failing, or too little
    # holding to build on, makes it a global failure, whatever regions the critic offers.
    if any(kinds.get(f) in GLOBAL_KINDS for f in failed) or crit["score"] < cfg.local_min_score:
        return None
    defects = [d for d in crit.get("defects", []) if d.get("region") and d["kind"] != "global"]
    if not defects:
        # A critic that gives verdict regions but no defects: repaint those regions.
        if not crit.get("regions"):
            return None
        defects = [{"kind": "replace", "region": r, "requirement_ids": [k], "prompt": None}
                   for k, r in crit["regions"].items()]
    # Fix the requirement group with the most failures first (ids share a "g<i>." prefix in the
    # shapes world; free-form ids stand alone).
    def group_of(d: dict) -> str:
        rid = (d.get("requirement_ids") or ["?"])[0]
        return rid.split(".")[0]

    groups: dict[str, list[dict]] = {}
    for d in defects:
        groups.setdefault(group_of(d), []).append(d)
    order = sorted(groups, key=lambda g: (-len({r for d in groups[g] for r in d["requirement_ids"]}),
                                          _first_index(g, failed)))
    for g in order:
        ds = groups[g]
        regions = [Region.model_validate(d["region"]) for d in ds]
        area = sum(r.area for r in regions)
        if area > cfg.max_region_area:
            notes.append(f"no inpaint for {g}: its regions cover {area:.0%} of the image")
            continue
        adds = [d for d in ds if d["kind"] != "remove"]
        prompt = (adds or ds)[0].get("prompt")
        # Where something is to be drawn comes first: a colour guide centres its blob there.
        regions = [Region.model_validate(d["region"]) for d in adds + [d for d in ds if d not in adds]]
        action = Action(kind="inpaint", prompt=prompt, regions=regions, strength=inpaint_strength(cfg),
                        reason="; ".join(d.get("description", "") for d in ds))
        banned = is_banned(node, action, cfg)
        if banned:
            notes.append(f"skipped inpaint for {g}: {banned}")
            continue
        what = ", ".join(sorted({r for d in ds for r in d["requirement_ids"]}))
        return action, f"local failure ({what}) confined to {len(regions)} region(s) covering {area:.0%}"
    return None


def _first_index(group: str, failed: list[str]) -> int:
    return next((i for i, f in enumerate(failed) if f.split(".")[0] == group), len(failed))


def _validate_recommendation(node: dict, rec: dict, state: RunState, cfg: PolicyConfig) -> tuple[Action | None, str]:
    """Turn the critic's recommendation into an action if the rules allow it."""
    crit = node["critique"]
    kind = rec.get("kind")
    if kind == "accept":
        return (None, "critic recommended accept, overridden: requirements still fail") if crit["failed"] \
            else (None, "")
    if kind not in ("inpaint", "img2img", "variations", "txt2img", "rewrite_prompt"):
        return None, f"critic recommended {kind!r}, which the rules do not take from a critic"
    try:
        if kind == "inpaint":
            if not rec.get("region"):
                return None, "critic recommended inpaint without a region, overridden"
            region = Region.model_validate(rec["region"])
            if region.area > cfg.max_region_area:
                return None, f"critic's inpaint region covers {region.area:.0%} of the image, overridden"
            action = Action(kind="inpaint", regions=[region], prompt=rec.get("prompt"),
                            strength=inpaint_strength(cfg), source="critic", reason=rec.get("reason", ""))
        elif kind == "variations":
            s = rec.get("strength") or _strength(node, "variations", cfg.variation_strength, cfg)
            action = Action(kind="variations", n=cfg.variations_n, strength=s, prompt=None,
                            source="critic", reason=rec.get("reason", ""))
        elif kind == "img2img":
            s = rec.get("strength") or _strength(node, "img2img", cfg.rebuild_strength, cfg)
            action = Action(kind="img2img", strength=s, prompt=rec.get("prompt"), source="critic",
                            reason=rec.get("reason", ""))
        else:
            action = Action(kind="txt2img", prompt=rec.get("prompt"), source="critic", reason=rec.get("reason", ""))
    except (ValidationError, ValueError) as exc:
        return None, f"critic's recommendation {kind} has invalid parameters ({exc.__class__.__name__}), overridden"
    why = is_banned(node, action, cfg)
    if why:
        return None, f"critic recommended {kind}, overridden: {why}"
    return action, f"critic recommended {kind}: {rec.get('reason', '')}".strip()


def decide(state: RunState, cfg: PolicyConfig, budget: dict) -> Decision:
    nodes = state["nodes"]
    cur_id = state.get("current") or ROOT
    node = nodes[cur_id]
    crit = node.get("critique")
    # Acceptance first: the image that spent the last of the budget may be the one that passes.
    if crit and not crit["failed"] and crit["score"] >= cfg.accept_score:
        return Decision(route="accept", reason=f"all {len(crit['passed'])} requirements pass "
                                                f"(score {crit['score']:.2f})")
    stop = stop_check(state, cfg, budget)
    if stop:
        return Decision(route="stop", status=stop[0], reason=stop[1])
    remaining = remaining_images(state, budget)
    if cur_id == ROOT or crit is None:
        action = Action(kind="txt2img", prompt=state["prompt"], negative_prompt=state.get("negative_prompt"))
        banned = is_banned(nodes[ROOT], action, cfg)
        if banned:
            return Decision(route="stop", status="stopped", reason=f"cannot make a first image: txt2img is {banned}")
        return Decision(route="generate", action=action, reason="first image from the prompt"
                        if cur_id == ROOT else "the current image has no critique; start afresh")
    notes: list[str] = []
    candidates: list[tuple[Action, str, str | None]] = []  # action, reason, rewrite job
    rec = crit.get("recommended") if cfg.follow_critic else None
    if rec:
        action, note = _validate_recommendation(node, rec, state, cfg)
        if note:
            notes.append(note)
        if action is not None:
            job = "region" if action.kind == "inpaint" and not action.prompt else (
                "prompt" if action.kind in ("txt2img", "img2img") and not action.prompt else None)
            candidates.append((action, note, job))

    if plateaued(state, cfg):
        candidates.append((Action(kind="txt2img", prompt=None, negative_prompt=state.get("negative_prompt")),
                           f"plateau: no better image in {state['since_best']} steps; start a new image", "prompt"))
    local = _local_fix(state, node, cfg, notes)
    if local:
        action, why = local
        candidates.append((action, why, None if action.prompt else "region"))
    score = crit["score"]
    kinds = {r["id"]: r.get("kind", "other") for r in state["checklist"]}
    global_fail = any(kinds.get(f) in GLOBAL_KINDS for f in crit["failed"])
    polish = not crit["failed"]  # every requirement holds, the critic still marks it down
    layout_fail = any(kinds.get(f) in LAYOUT_KINDS for f in crit["failed"])
    if polish or (score >= cfg.near_miss and not global_fail and not layout_fail):
        s = _strength(node, "variations", cfg.variation_strength, cfg)
        why = (f"every requirement passes but the critic rates it {score:.2f}: polish with" if polish else
               f"near miss (score {score:.2f}) with no region to blame:")
        # prompt=None: the node's own prompt, which may be a rewrite or carry the person's feedback.
        candidates.append((Action(kind="variations", n=cfg.variations_n, strength=s, prompt=None,
                                  negative_prompt=state.get("negative_prompt")),
                           f"{why} {cfg.variations_n} variations at strength {s}", None))
    if crit["passed"]:
        s = _strength(node, "img2img", cfg.rebuild_strength, cfg)
        candidates.append((Action(kind="img2img", strength=s, prompt=None,
                                  negative_prompt=state.get("negative_prompt")),
                           (f"global failure ({', '.join(crit['failed'])})" if crit["failed"] else
                            "polishing by variations is exhausted") +
                           f": rewrite the prompt and rebuild at strength {s}, keeping what holds", "prompt"))
    candidates.append((Action(kind="txt2img", prompt=None, negative_prompt=state.get("negative_prompt")),
                       f"{'nothing holds' if not crit['passed'] else 'other fixes exhausted'}: rewrite the "
                       "prompt and start a new image", "prompt"))
    for action, why, job in candidates:
        banned = is_banned(node if action.kind != "txt2img" else nodes[ROOT], action, cfg)
        if banned:
            notes.append(f"skipped {action.kind}: {banned}")
            continue
        action = _fit_budget(action, remaining)
        if action is None:
            notes.append("skipped an action larger than the remaining budget")
            continue
        action = action.model_copy(update={"reason": why})
        if job:
            return Decision(route="rewrite", action=action, reason=why, notes=notes, job=job)
        return Decision(route="generate", action=action, reason=why, notes=notes)
    return Decision(route="stop", status="plateau", reason="no untried action left at the current node",
                    notes=notes)


def remaining_images(state: RunState, budget: dict) -> float:
    """Images the generation budget still allows (inf without one)."""
    cap = budget.get("generations")
    return float("inf") if cap is None else cap - state.get("spend", {}).get("generations", 0)


def _fit_budget(action: Action, remaining: float) -> Action | None:
    if action.generations <= remaining:
        return action
    if action.kind == "variations" and remaining >= 2:
        return action.model_copy(update={"n": int(remaining)})
    if action.kind == "variations" and remaining >= 1:
        return Action(kind="img2img", strength=action.strength, prompt=action.prompt,
                      negative_prompt=action.negative_prompt)
    return None
