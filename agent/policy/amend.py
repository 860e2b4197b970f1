"""When a person's request changes the brief: the checklist evolves with them.

A person who paints over the blue square and asks for "a green circle" has changed the brief. Their
edit is made and judged; what it lost is read here, never taken as drift:

- what the request states replaces what it lost — the green circle takes the blue square's place,
  and "the red circle is left of the blue square" becomes "... of the green circle" — and the image
  is judged against the amended checklist from then on (an **amendment**, recorded on the node with
  who made it);
- where that is not clear (the request names an object the brief already has and the edit broke
  another requirement; it replaced two objects at once; a free-form brief, where nothing says which
  requirement a request replaces), the person is asked one question ("keep “a blue square”?") instead:
  keep their change (the checklist drops or replaces what it lost) or keep the brief (back to where
  the edit started, said so). Their edit is never reverted without asking;
- a request that adds something the brief did not have (a new object where nothing was lost) adds it.

Shapes-world briefs are read with their grammar (tools/shapes/parse.py): the request's phrase
becomes the brief's object and the checklist is the amended brief's. For free-form briefs the new
requirements are the critic's reading of the request (``Critic.feedback_requirements``), given here.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.contracts import Amendment, Requirement
from tools.errors import BriefError
from tools.shapes.brief import Brief, Group
from tools.shapes.parse import parse_brief
from tools.shapes.vocab import MAX_OBJECTS

PRESENCE = ("object", "count")


class Reading(BaseModel):
    """What a person's edit means for the brief: an amendment to apply now, or a question first
    (whose answer "keep my change" applies ``amendment``), or nothing (it contradicted nothing)."""

    amendment: Amendment | None = None
    question: str | None = None  # "keep “a blue square”?"
    detail: str | None = None  # what each answer does, in words
    lost: list[str] = Field(default_factory=list)


def read_edit(checklist: list[dict], brief: str, request: str | None, kind: Literal["region", "feedback"],
              lost: list[str], version: int, proposed: list[Requirement] = (), origin: str | None = None) -> Reading:
    """What a person's edit (a region repainted, or a rebuild from their feedback) means for the
    checklist in force. ``request``: their words (None when they left the words to the agent);
    ``lost``: the requirements that held where the edit started and fail in its image; ``version``:
    the checklist's version now; ``proposed``: the critic's requirements for a free-form request."""
    current = [Requirement.model_validate(r) for r in checklist]
    amended = _shapes(current, brief, request, kind, lost, version + 1) if request else None
    if amended is None and proposed and not lost:  # free text the critic can check: it joins the brief
        amended = Amendment(by="person", request=request, added=[_mark(r, version + 1) for r in proposed],
                            version=version + 1)
    unexplained = [r for r in lost if amended is None or r not in {x.id for x in amended.replaced}]
    if not unexplained:
        return Reading(amendment=amended, lost=lost)
    # Asked, not guessed: keeping the change drops (or replaces) what it lost — and, for an object it
    # lost, what is said about that object (its size, place, relations), which cannot hold without it.
    texts = {r.id: r.text for r in current}
    keep = amended or Amendment(by="person", request=request, version=version + 1,
                                added=[_mark(r, version + 1, tuple(unexplained)) for r in proposed])
    gone_objects = _objects(current, unexplained)
    drop = set(unexplained) | {r.id for r in current if _about(r, gone_objects)}
    dropped = [r for r in current if r.id in drop and r.id not in {x.id for x in keep.replaced}]
    keep = keep.model_copy(update={"replaced": keep.replaced + dropped})
    if amended is None and gone_objects:  # new images are drawn without the objects let go
        keep = keep.model_copy(update={"prompt": _without(brief, gone_objects)})
    names = ", ".join(f"“{texts.get(r, r)}”" for r in unexplained)
    back = f" (back to {origin})" if origin else ""
    return Reading(amendment=keep, lost=lost, question=f"keep {names}?",
                   detail=f"your change lost {names}. Keep your change: the brief lets {names} go. Or keep the "
                          f"brief as it was{back}.")


def apply(state: dict[str, Any], amendment: Amendment) -> dict[str, Any]:
    """The state update an amendment makes: the checklist in force, the brief the critic reads, the
    prompt new images start from, and the checklist's version."""
    gone = {r.id for r in amendment.replaced}
    out: list[dict] = []
    placed: set[str] = set()
    for r in state["checklist"]:
        if r["id"] in gone:
            for new in amendment.added:  # a replacement takes the place of what it replaces
                if r["id"] in new.replaces and new.id not in placed:
                    out.append(new.model_dump(mode="json"))
                    placed.add(new.id)
            continue
        out.append(r)
    out += [new.model_dump(mode="json") for new in amendment.added if new.id not in placed]
    update: dict[str, Any] = {"checklist": out, "checklist_version": amendment.version}
    if amendment.brief:
        update["brief"] = amendment.brief
    if amendment.prompt:
        update["prompt"] = amendment.prompt
    return update


def stale(node: dict | Any, state: dict[str, Any]) -> bool:
    """Whether a node's critique answered a brief the person has changed since."""
    judged = node.get("judged_on", 0) if isinstance(node, dict) else node.judged_on
    critique = node.get("critique") if isinstance(node, dict) else node.critique
    return bool(critique) and judged < state.get("checklist_version", 0)


# -- the shapes world ---------------------------------------------------------------------------------
def _read(text: str) -> Brief | None:
    try:
        return parse_brief(text)
    except (BriefError, ValueError):
        return None


def _shapes(current: list[Requirement], brief: str, request: str, kind: str, lost: list[str],
            version: int) -> Amendment | None:
    """The amendment a shapes-grammar request makes to a shapes-grammar brief, or None (it is not
    one, or it asks for what the brief already has)."""
    old, asked = _read(brief), _read(request)
    if old is None or asked is None:
        return None
    if kind == "feedback" and (len(asked.groups) > 1 or asked.background):  # the person restated the brief
        new = asked.model_copy(update={"background": asked.background or old.background})
    else:
        new = _with_object(old, asked.groups[0], current, lost)
    if new is None or new.text() == old.text():
        return None
    return _diff(current, old, new, request, version)


def _with_object(old: Brief, wanted: Group, current: list[Requirement], lost: list[str]) -> Brief | None:
    """The brief with the object a request names: in place of the one object its edit lost, or
    added beside the others when it lost none; None when it names an object the brief has, or lost
    several (which one it replaced is the person's to say)."""
    if any(g.shape == wanted.shape and wanted.colour in (None, g.colour) for g in old.groups):
        return None
    gone = {(r.spec or {}).get("group") for r in current if r.id in lost and (r.spec or {}).get("check") in PRESENCE}
    if len(gone) == 1:
        i = gone.pop()
        was = old.groups[i]
        # It takes the old object's place: where it stood, and its size unless the request says one.
        group = wanted.model_copy(update={"size": wanted.size or was.size, "position": wanted.position or was.position})
        return old.model_copy(update={"groups": [group if k == i else g for k, g in enumerate(old.groups)]})
    if gone or old.n_objects + wanted.count > MAX_OBJECTS:
        return None
    return Brief(groups=[*old.groups, wanted], links=[*old.links, None], background=old.background)


def _objects(current: list[Requirement], ids: list[str]) -> set[int]:
    """The shapes-brief objects whose presence is among ``ids``."""
    return {(r.spec or {}).get("group") for r in current if r.id in ids and (r.spec or {}).get("check") in PRESENCE}


def _about(r: Requirement, objects: set[int]) -> bool:
    spec = r.spec or {}
    return bool(objects) and (spec.get("group") in objects or spec.get("other") in objects)


def _without(brief: str, objects: set[int]) -> str | None:
    """The brief's text without some of its objects (a relation that joined one becomes "and")."""
    old = _read(brief)
    if old is None or len(objects) >= len(old.groups):
        return None
    keep = [k for k in range(len(old.groups)) if k not in objects]
    links = [old.links[a] if b == a + 1 else None for a, b in zip(keep, keep[1:])]
    return Brief(groups=[old.groups[k] for k in keep], links=links, background=old.background).text()


def _role(spec: dict | None) -> tuple:
    """What a requirement is about in a shapes brief, whatever it says: one object's presence (or
    count), its size, its place, a relation, the background."""
    spec = spec or {}
    check = "presence" if spec.get("check") in PRESENCE else spec.get("check")
    return check, spec.get("group")


def _diff(current: list[Requirement], old: Brief, new: Brief, request: str, version: int) -> Amendment:
    """The requirements of ``new`` that differ from the checklist in force, each under a new id that
    names what it replaces (ids stay opaque: "g1.object@1" is only a new name)."""
    ours = {_role(r.spec): r for r in current if r.spec}
    theirs = {_role(r.spec): r for r in new.requirements()}
    added, replaced = [], []
    for role, r in theirs.items():
        was = ours.get(role)
        if was is not None and was.text == r.text:
            continue
        added.append(r.model_copy(update={"id": f"{r.id.split('@')[0]}@{version}", "amended_by": "person",
                                          "replaces": (was.id,) if was else ()}))
        if was is not None:
            replaced.append(was)
    replaced += [r for role, r in ours.items() if role not in theirs]
    return Amendment(by="person", request=request, replaced=replaced, added=added, brief=new.text(),
                     prompt=new.text(), version=version)


def _mark(r: Requirement, version: int, replaces: tuple[str, ...] = ()) -> Requirement:
    return r.model_copy(update={"id": f"{r.id.split('@')[0]}@{version}", "amended_by": "person",
                                "replaces": replaces})
