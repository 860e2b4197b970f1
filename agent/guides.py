"""Read an inpaint prompt for the colour guide that primes its region (tools/engine/guides.py).

"a small red circle at top left, yellow background" -> the region is filled with the colour just
around it (the background, wherever an object is to be added or removed), and a red blob sized for
a small object sits in it. Colour words are the CSS names (the engine maps them to the model's own
palette when it ships one); a colour followed by "background" names the background. A prompt that
names no colour gets no guide, and the region is repainted from noise as usual.
"""
from __future__ import annotations

import re

from tools.contracts import Region
from tools.engine.guides import COLOUR_NAMES, SURROUNDINGS

# Blob side as a share of the region's side. A region is a grid cell or an object's box with a
# margin around it; a blob much smaller than the object it stands for gets painted over as noise.
SIZE_WORDS = {"small": 0.55, "tiny": 0.5, "little": 0.55, "large": 0.85, "big": 0.85, "huge": 0.9}
DEFAULT_SIZE = 0.7
_WORD = re.compile(r"[a-z]+")


def guide_for(prompt: str, box: Region | None = None) -> dict | None:
    """The guide a region prompt implies, or None when it names no colour."""
    words = _WORD.findall(prompt.lower())
    colour = background = None
    size = DEFAULT_SIZE
    for i, w in enumerate(words):
        if w in COLOUR_NAMES:
            if i + 1 < len(words) and words[i + 1] in ("background", "backdrop"):
                background = background or w
            elif colour is None:
                colour = w
        elif w in SIZE_WORDS and colour is None:
            size = SIZE_WORDS[w]
    if colour is None and background is None:
        return None
    # The surroundings, not the named background: they are what the region must blend into, and a
    # failing background is a global fix, never an inpaint.
    guide: dict = {"size": size, "background": SURROUNDINGS}
    if colour:
        guide["colour"] = colour
    if box is not None and colour:
        guide["box"] = list(box.as_tuple())
    return guide
