"""A parsed shapes brief, its canonical text and its checklist of atomic requirements."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.contracts import Requirement
from tools.errors import BriefError
from tools.shapes.vocab import (
    CELLS,
    COLOURS,
    COUNT_WORDS,
    MAX_OBJECTS,
    RELATION_MARGIN,
    RELATIONS,
    SHAPES,
    SIZE_RANGES,
    SIZES,
    cell_box,
    plural,
)


# "to the left of" rather than "left of": "at bottom right of" would be ambiguous.
_LINK_TEXT = {None: "and", "left of": "to the left of", "right of": "to the right of",
              "above": "above", "below": "below"}


def group_id(index: int) -> str:
    """The opaque group id of the brief's ``index``-th phrase (Requirement.group, Defect.group)."""
    return f"g{index}"


def group_index(group: str) -> int:
    """The phrase a group id made by :func:`group_id` stands for."""
    return int(group[1:])


def _article(noun: str) -> str:
    return "an" if noun[:1] in tuple("aeiou") else "a"


class Group(BaseModel):
    """One phrase of a brief: ``count`` objects sharing colour, shape, size and position."""

    model_config = ConfigDict(frozen=True)

    shape: str
    colour: str | None = None
    size: str | None = None
    count: int = Field(default=1, ge=1, le=MAX_OBJECTS)
    position: str | None = None

    @model_validator(mode="after")
    def _known_words(self) -> "Group":
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; known: {', '.join(SHAPES)}")
        if self.colour is not None and self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}; known: {', '.join(COLOURS)}")
        if self.size is not None and self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}; known: {', '.join(SIZES)}")
        if self.position is not None and self.position not in CELLS:
            raise ValueError(f"unknown position {self.position!r}; known: {', '.join(CELLS)}")
        return self

    def noun(self) -> str:
        """'red circle' / 'red circles': what the group is called in requirement texts."""
        words = [w for w in (self.colour, self.shape if self.count == 1 else plural(self.shape)) if w]
        return " ".join(words)

    def label(self) -> str:
        """'small red circle': one of the group's objects, as a localiser or an inpaint prompt names it."""
        return " ".join(w for w in (self.size, self.colour, self.shape) if w)

    def geometry(self) -> dict:
        """What a layout planner needs of the group (agent/policy/layout.py): how many, how big (the
        side of one object, as a share of the image), what it is called."""
        side = SIZE_RANGES[self.size] if self.size else (SIZE_RANGES["small"][0], SIZE_RANGES["large"][1])
        return {"count": self.count, "side": list(side), "label": self.label(), "colour": self.colour}

    def phrase(self) -> str:
        """The canonical phrase: 'two small red circles at top left'."""
        words = [w for w in (self.size, self.colour) if w]
        words.append(self.shape if self.count == 1 else plural(self.shape))
        words.insert(0, _article(words[0]) if self.count == 1 else COUNT_WORDS[self.count])
        if self.position:
            words += ["at", self.position]
        return " ".join(words)


class Brief(BaseModel):
    """A scene: groups joined in order by relations (or 'and'), and an optional background colour."""

    model_config = ConfigDict(frozen=True)

    groups: list[Group]
    # links[i] joins groups[i] and groups[i + 1]: a relation from RELATIONS, or None for 'and'.
    links: list[str | None] = Field(default_factory=list)
    background: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Brief":
        if not self.groups:
            raise ValueError("a brief needs at least one object")
        if len(self.links) != len(self.groups) - 1:
            raise ValueError("links must join consecutive groups: len(links) == len(groups) - 1")
        for link in self.links:
            if link is not None and link not in RELATIONS:
                raise ValueError(f"unknown relation {link!r}; known: {', '.join(RELATIONS)}")
        if self.background is not None and self.background not in COLOURS:
            raise ValueError(f"unknown background colour {self.background!r}")
        return self

    @property
    def n_objects(self) -> int:
        return sum(g.count for g in self.groups)

    def text(self) -> str:
        """The canonical brief; it is also the prompt the shapes model was trained on."""
        parts = [self.groups[0].phrase()]
        for link, group in zip(self.links, self.groups[1:]):
            parts += [_LINK_TEXT[link], group.phrase()]
        out = " ".join(parts)
        if self.background:
            out += f", {self.background} background"
        return out

    def requirements(self) -> list[Requirement]:
        """The checklist: one atomic requirement per fact the brief states."""
        reqs: list[Requirement] = []
        for i, g in enumerate(self.groups):
            the = f"the {g.noun()}"
            verb = "is" if g.count == 1 else "are"
            if g.count == 1:
                reqs.append(Requirement(id=f"g{i}.object", kind="object", group=group_id(i),
                                        text=f"{_article(g.noun())} {g.noun()}",
                                        spec={"check": "object", "group": i, **g.geometry()}))
            else:
                reqs.append(Requirement(id=f"g{i}.count", kind="count", group=group_id(i),
                                        text=f"exactly {COUNT_WORDS[g.count]} {g.noun()}",
                                        spec={"check": "count", "group": i, **g.geometry()}))
            if g.size:
                reqs.append(Requirement(id=f"g{i}.size", kind="size", group=group_id(i),
                                    text=f"{the} {verb} {g.size}",
                                        spec={"check": "size", "group": i}))
            if g.position:
                reqs.append(Requirement(id=f"g{i}.position", kind="position", group=group_id(i),
                                        text=f"{the} {verb} at {g.position}",
                                        spec={"check": "position", "group": i,
                                              "region": list(cell_box(g.position))}))
        for i, link in enumerate(self.links):
            if link is None:
                continue
            a, b = self.groups[i], self.groups[i + 1]
            verb = "is" if a.count == 1 else "are"
            # A relation belongs to its subject: fixing it moves (or redraws) the first object.
            reqs.append(Requirement(id=f"g{i}.{link.replace(' ', '_')}.g{i + 1}", kind="relation",
                                    group=group_id(i),
                                    text=f"the {a.noun()} {verb} {link} the {b.noun()}",
                                    spec={"check": "relation", "group": i, "other": i + 1,
                                          "other_group": group_id(i + 1), "relation": link,
                                          "margin": RELATION_MARGIN}))
        if self.background:
            reqs.append(Requirement(id="background", kind="background",
                                    text=f"{self.background} background",
                                    spec={"check": "background", "colour": self.background}))
        return reqs

    def check_sense(self) -> None:
        """Reject briefs that are grammatical but cannot be pictured or checked unambiguously."""
        if self.n_objects > MAX_OBJECTS:
            raise BriefError(f"the brief asks for {self.n_objects} objects; the shapes world draws "
                             f"at most {MAX_OBJECTS}")
        seen: dict[tuple[str | None, str], int] = {}
        for i, g in enumerate(self.groups):
            key = (g.colour, g.shape)
            if key in seen:
                raise BriefError(
                    f"'{self.groups[seen[key]].phrase()}' and '{g.phrase()}' describe the same kind of "
                    f"object, so a checker could not tell them apart; give them different colours or "
                    f"shapes, or use a count ('two {g.noun() if g.count > 1 else plural(g.shape)}')")
            seen[key] = i
            if self.background and g.colour == self.background:
                raise BriefError(f"'{g.phrase()}' on a {self.background} background would be invisible; "
                                 "choose another colour for the object or the background")
