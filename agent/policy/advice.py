"""The critic's advice: with ``follow_critic`` on, a critic's own recommended action is taken first
when the rules allow it (valid parameters, a region small enough to be local, not banned at the
node); otherwise the rules decide and the critic only advises. Every refusal is said in a note."""
from __future__ import annotations

from pydantic import ValidationError

from agent.contracts import Action
from agent.policy import strength
from agent.policy.config import PolicyConfig
from agent.policy.tabu import why_banned
from agent.tree import CritiqueSummary, TreeNode


def from_recommendation(node: TreeNode, crit: CritiqueSummary, cfg: PolicyConfig) -> tuple[Action | None, str]:
    """The critic's recommendation as an action, if the rules allow it; and a note on what was done."""
    rec = crit.recommended
    kind = rec.kind
    if kind == "accept":
        return (None, "critic recommended accept, overridden: requirements still fail") if crit.failed \
            else (None, "")
    if kind not in ("inpaint", "img2img", "variations", "txt2img", "rewrite_prompt"):
        return None, f"critic recommended {kind!r}, which the rules do not take from a critic"
    try:
        if kind == "inpaint":
            if not rec.region:
                return None, "critic recommended inpaint without a region, overridden"
            if rec.region.area > cfg.max_region_area:
                return None, f"critic's inpaint region covers {rec.region.area:.0%} of the image, overridden"
            action = Action(kind="inpaint", regions=[rec.region], prompt=rec.prompt,
                            strength=strength.provisional_inpaint(cfg), source="critic", reason=rec.reason)
            if rec.prompt:
                action = strength.complete_inpaint(action, cfg)
        elif kind == "variations":
            s = rec.strength or strength.for_edit(node, "variations", cfg)
            action = Action(kind="variations", n=cfg.variations_n, strength=s, source="critic", reason=rec.reason)
        elif kind == "img2img":
            s = rec.strength or strength.for_edit(node, "img2img", cfg)
            action = Action(kind="img2img", strength=s, prompt=rec.prompt, source="critic", reason=rec.reason)
        else:
            action = Action(kind="txt2img", prompt=rec.prompt, source="critic", reason=rec.reason)
    except (ValidationError, ValueError) as exc:
        return None, f"critic's recommendation {kind} has invalid parameters ({exc.__class__.__name__}), overridden"
    why = why_banned(node, action, cfg)
    if why:
        return None, f"critic recommended {kind}, overridden: {why}"
    return action, f"critic recommended {kind}: {rec.reason}".strip()
