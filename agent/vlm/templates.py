"""Prompt templates: versioned text files in the ``prompts`` package, loaded with importlib.resources.

A template file is named ``<name>.v<version>.md`` and reads::

    ---
    template: critique
    version: 1
    ---
    ## system
    ...text for the system message...
    ## user
    ...text for the user message, with $placeholders...

Placeholders use ``string.Template`` syntax (``$brief``), so JSON braces in the text need no
escaping. The rendered system message starts with a marker line ``[sculpt critique@1]``: it names
the exact template in server logs and lets a test server tell the request kinds apart.
"""
from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from tools.contracts import Requirement
from tools.errors import InputError

_HEADER = re.compile(r"\A---\n(?P<head>.*?)\n---\n", re.S)
_SECTION = re.compile(r"^## (system|user)[ \t]*$", re.M)
MARKER = re.compile(r"\A\[sculpt (?P<name>[a-z_]+)@(?P<version>\d+)\]")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        """'critique@1': recorded as ``prompt_version`` with every answer made from it."""
        return f"{self.name}@{self.version}"

    def fill(self, part: str, **values: Any) -> str:
        """One section ("system" or "user") with its placeholders filled in."""
        try:
            return string.Template(getattr(self, part)).substitute(values)
        except (KeyError, ValueError) as exc:
            raise InputError(f"template {self.id} needs a value for {exc}; it was given {sorted(values)}") \
                from None

    def render(self, **values: Any) -> tuple[str, str]:
        """(system, user) messages; the system message starts with the template's marker line."""
        return f"[sculpt {self.id}]\n{self.fill('system', **values)}", self.fill("user", **values)


@lru_cache(maxsize=None)
def load_template(name: str, version: int = 1) -> PromptTemplate:
    """The template ``prompts/<name>.v<version>.md``; its header must name the same template."""
    filename = f"{name}.v{version}.md"
    try:
        text = resources.files("prompts").joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no prompt template {filename} in the prompts package") from None
    head = _HEADER.match(text)
    if head is None:
        raise InputError(f"prompt template {filename} has no '---' header naming template and version")
    meta = dict(line.split(":", 1) for line in head.group("head").splitlines() if ":" in line)
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    if meta.get("template") != name or meta.get("version") != str(version):
        raise InputError(f"prompt template {filename} says template={meta.get('template')!r} "
                         f"version={meta.get('version')!r}; the header must match the file name")
    parts = _SECTION.split(text[head.end():])
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2])))
    if set(sections) != {"system", "user"}:
        raise InputError(f"prompt template {filename} needs a '## system' and a '## user' section")
    return PromptTemplate(name=name, version=version, system=sections["system"], user=sections["user"])


# -- blocks the templates share -----------------------------------------------------------------
def _fence(text: str, tag: str) -> str:
    # A brief cannot close the block it sits in: our own closing tag is defused.
    return text.replace(f"</{tag}>", f"</ {tag}>")


def brief_block(brief: str) -> str:
    return f"<brief>\n{_fence(brief.strip(), 'brief')}\n</brief>"


def checklist_block(checklist: Iterable[Requirement], tag: str = "checklist") -> str:
    """One JSON object per line, {"id", "text", "kind"}: unambiguous to a model and to a parser."""
    lines = [json.dumps({"id": r.id, "text": r.text, "kind": r.kind}, ensure_ascii=False) for r in checklist]
    return f"<{tag}>\n" + _fence("\n".join(lines), tag) + f"\n</{tag}>"


def json_block(tag: str, value: Any) -> str:
    return f"<{tag}>\n" + _fence(json.dumps(value, ensure_ascii=False, indent=1), tag) + f"\n</{tag}>"
