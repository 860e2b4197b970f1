"""Read a plain-English shapes brief into a :class:`Brief`.

The grammar, loosely:  scene [", <colour> background"]  where a scene is up to three object
phrases ("two small red circles at top left") joined by "and" or a relation ("left of", "above"...).
A brief the grammar cannot read gets a :class:`BriefError` that quotes the part it stopped at and
lists the vocabulary.
"""
from __future__ import annotations

import re

from pydantic import ValidationError

from tools.errors import BriefError
from tools.shapes.brief import Brief, Group
from tools.shapes.vocab import (
    COLOUR_SYNONYMS,
    COLOURS,
    SHAPE_SYNONYMS,
    SHAPES,
    SIZE_SYNONYMS,
    SIZES,
    vocabulary_summary,
)

_COUNTS = {"a": 1, "an": 1, "one": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
_TOO_MANY = {"four", "five", "six", "seven", "eight", "nine", "ten", "many", "several", "some"}
_VERTICAL = {"top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom"}
_HORIZONTAL = {"left": "left", "right": "right"}
_MIDDLE = {"center", "centre", "middle"}
_TRAILERS = {"corner", "side", "edge", "part"}
_CANVAS = ("image", "picture", "canvas", "frame", "scene")
_TOKEN = re.compile(r"[A-Za-z]+|\d+|,|\.")


def _colour(word: str) -> str | None:
    if word in COLOURS:
        return word
    return COLOUR_SYNONYMS.get(word)


def _size(word: str) -> str | None:
    return word if word in SIZES else SIZE_SYNONYMS.get(word)


def _shape(word: str) -> tuple[str, bool] | None:
    """(shape, is_plural) for a shape word, or None."""
    for form, is_plural in ((word, False), (word[:-1] if word.endswith("s") else "", True)):
        if form in SHAPES:
            return form, is_plural
        if form in SHAPE_SYNONYMS:
            return SHAPE_SYNONYMS[form], is_plural
    if word.endswith("es") and word[:-2] in SHAPE_SYNONYMS:  # "rhombuses"
        return SHAPE_SYNONYMS[word[:-2]], True
    return None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.pos = 0
        unknown = re.sub(r"[A-Za-z0-9,.\s]", "", text)
        if unknown:
            self.fail(f"unexpected character(s) {unknown!r}", at_char=text.index(unknown[0]))

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        i = self.pos + k
        return self.tokens[i][0] if i < len(self.tokens) else None

    def take(self, *words: str) -> bool:
        if self.peek() in words:
            self.pos += 1
            return True
        return False

    def fail(self, expected: str, at_char: int | None = None) -> None:
        if at_char is None:
            if self.pos < len(self.tokens):
                start = self.tokens[self.pos][1]
                stop = self.tokens[min(self.pos + 2, len(self.tokens) - 1)][2]
                quoted = self.text[start:stop]
            else:
                quoted = "(end of brief)"
        else:
            quoted = self.text[at_char:at_char + 12]
        raise BriefError(
            f'could not read "{quoted}" in the brief "{self.text}": {expected}. '
            f"The shapes world understands: {vocabulary_summary()}. "
            'Example: "two small red circles above a large blue square, yellow background".'
        )

    # -- grammar ---------------------------------------------------------------------------------
    def brief(self) -> Brief:
        if not self.tokens:
            raise BriefError("the brief is empty; describe 1-3 shapes, e.g. "
                             '"a red circle left of a blue square, white background"')
        groups = [self.group()]
        links: list[str | None] = []
        background = None
        while self.peek() is not None:
            if self.peek() == "." and self.pos == len(self.tokens) - 1:
                self.pos += 1
                break
            bg = self.background()
            if bg is not None:
                background = bg
                continue
            link = self.connector()
            links.append(link)
            groups.append(self.group())
        try:
            brief = Brief(groups=groups, links=links, background=background)
        except ValidationError as exc:  # pragma: no cover - the parser only emits known words
            raise BriefError(f"the brief {self.text!r} is not valid: {exc}") from exc
        brief.check_sense()
        return brief

    def background(self) -> str | None:
        """', yellow background' / 'on a yellow background' / 'with a yellow background'."""
        save = self.pos
        self.take(",")
        self.take("on", "with")
        self.take("a", "an")
        self.take("plain", "solid")
        colour = _colour(self.peek() or "")
        if colour and self.peek(1) == "background":
            self.pos += 2
            if self.peek() not in (None, ",", "."):
                self.fail("the background should come last")
            return colour
        if self.pos > save and self.peek() == "background":
            self.fail("expected a colour before 'background'")
        self.pos = save
        return None

    def connector(self) -> str | None:
        if self.take(",") and self.peek() != "and":
            self.fail("expected 'and' or a relation (left of, right of, above, below) after the comma")
        if self.take("and"):
            return None
        rel = self.relation()
        if rel is None:
            self.fail("expected 'and' or a relation (left of, right of, above, below) between objects")
        return rel

    def relation(self) -> str | None:
        save = self.pos
        if self.take("above", "over"):
            return "above"
        if self.take("below", "under", "underneath", "beneath"):
            return "below"
        if self.take("on") and self.take("top") and self.take("of"):
            return "above"
        self.pos = save
        self.take("to", "on", "at")
        self.take("the")
        side = self.peek()
        if side in ("left", "right") and self.peek(1) == "of":
            self.pos += 2
            return f"{side} of"
        self.pos = save
        return None

    def group(self) -> Group:
        if self.peek() is None:
            self.fail("expected an object after the last connector")
        if (self.peek() or "") in _TOO_MANY:
            self.fail(f"the shapes world draws at most three objects, not {self.peek()}")
        count = _COUNTS.get(self.peek() or "")
        if count is not None:
            self.pos += 1
        size = colour = None
        for _ in range(2):  # size and colour in either order
            if size is None and (s := _size(self.peek() or "")):
                size = s
                self.pos += 1
            elif colour is None and (c := _colour(self.peek() or "")):
                colour = c
                self.pos += 1
        shape = _shape(self.peek() or "")
        if shape is None:
            self.fail(f"expected a shape ({', '.join(SHAPES)})")
        name, is_plural = shape
        self.pos += 1
        if count is None:
            if is_plural:
                self.pos -= 1
                self.fail("say how many (two or three) before a plural shape")
            count = 1
        if is_plural != (count > 1):
            self.pos -= 1
            self.fail(f"the count '{count}' does not agree with '{self.peek()}'")
        position = self.position()
        return Group(shape=name, colour=colour, size=size, count=count, position=position)

    def position(self) -> str | None:
        save = self.pos
        if not self.take("at", "in", "on"):
            return None
        self.take("the")
        vertical = horizontal = None
        middle = False
        for _ in range(2):
            word = self.peek() or ""
            if vertical is None and word in _VERTICAL:
                vertical = _VERTICAL[word]
            elif horizontal is None and word in _HORIZONTAL:
                horizontal = _HORIZONTAL[word]
            elif word in _MIDDLE and not middle:
                middle = True
            else:
                break
            self.pos += 1
        if vertical is None and horizontal is None and not middle:
            self.pos = save
            return None
        of_the_image = self.peek() == "of" and (self.peek(1) in _CANVAS or (
            self.peek(1) == "the" and self.peek(2) in _CANVAS))
        if self.peek() == "of" and not of_the_image:
            # "at bottom right of X" reads as "at bottom" + "right of X"; "on the left of X" is
            # a relation alone.
            if vertical and horizontal:
                self.pos -= 1
                return vertical
            self.pos = save
            return None
        self.take(*_TRAILERS)
        if self.take("of"):
            self.take("the")
            if not self.take(*_CANVAS):
                self.fail("expected 'image' after 'of the'")
        if vertical and horizontal:
            return f"{vertical} {horizontal}"
        return vertical or horizontal or "center"


def parse_brief(text: str) -> Brief:
    """Parse a shapes brief; raise :class:`BriefError` quoting what could not be read."""
    if not isinstance(text, str):
        raise BriefError(f"a brief must be text, not {type(text).__name__}")
    return _Parser(text.strip()).brief()
