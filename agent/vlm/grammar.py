"""The JSON a local model may write: a reply schema bounded so that every reply it allows is valid
and fits in the token budget, compiled for constrained decoding.

Constrained decoding guarantees the reply follows the grammar, not that it ends: a model (a small
or a random-weight one) that never closes a string would run into ``max_new_tokens`` and be cut
off. So the grammar is made finite and small enough:

- strings are printable ASCII without quotes or backslashes, at most ``L`` characters, ``L``
  chosen so that the longest reply fits in the budget (every token writes at least one byte, and
  no character needs an escape, so bytes bound tokens);
- numbers are on a 0.05 grid inside their bounds (and 0-1 where the schema gives none: every
  number we ask a model for is a fraction: confidences, scores, strengths, box corners);
- arrays have at most a few items, and where the caller knows the answer's shape (one verdict per
  checklist id, in order) the grammar spells it out, so the reply also passes the validation a
  server's reply is checked with.

The longest reply the grammar allows is then a known number of bytes, and ``max_new_tokens`` is
set from it: the reply always ends, and always parses. The budget (``max_tokens``) sets how long the
free strings may be; it is a target, not a cap, when a long checklist's structure alone would fill it.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel

STRING_CHARS = r"[ -!#-\[\]-~]"  # printable ASCII but " and \: no escapes, one byte per character
GRID = [round(i / 20, 2) for i in range(21)]
ARRAY_CAP = 4  # items in an array the caller gave no shape to (defects, tried prompts)
LONGEST_STRING = 240  # characters: enough for evidence or a prompt; more is rambling
SHORTEST_STRING = 16  # characters every free string may have, however long the checklist
SEP, COLON = 2, 2  # xgrammar writes ", " between items and ": " after keys

Override = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class ReplyShape:
    """What a reply must look like: the reply model and, where the caller knows more (the ids it
    expects), schema overrides by path ("verdicts", "defects.items.requirement_ids.items")."""

    model: type[BaseModel]
    overrides: dict[str, Override] = field(default_factory=dict)


@dataclass
class BoundedSchema:
    schema: dict[str, Any]
    max_bytes: int  # the longest reply the schema allows
    string_chars: int  # the longest free string


def one_per_id(ids: list[str], key: str = "id") -> Override:
    """An array of exactly one item per id, in order, each item's ``key`` fixed to its id."""

    def override(array: dict[str, Any]) -> dict[str, Any]:
        item = array["items"]
        items = []
        for i in ids:
            one = copy.deepcopy(item)
            one["properties"][key] = {"const": i}
            items.append(one)
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(ids), "maxItems": len(ids)}

    return override


def numbered(prefix: str, most: int, key: str = "id") -> Override:
    """An array of 1 to ``most`` items whose ``key`` is prefix1, prefix2, ... (unique by construction)."""

    def override(array: dict[str, Any]) -> dict[str, Any]:
        fixed = one_per_id([f"{prefix}{i + 1}" for i in range(most)], key)(array)
        return {**fixed, "minItems": 1}

    return override


def choose_from(values: list[str]) -> Override:
    return lambda _node: {"enum": list(values)} if values else {"type": "null"}


def bounded_schema(shape: ReplyShape, budget_bytes: int) -> BoundedSchema:
    """The reply model's schema, bounded as the module says, its strings as long as ``budget_bytes`` allows."""
    raw = shape.model.model_json_schema()
    tree = _inline(raw, raw.get("$defs", {}))
    for path, override in shape.overrides.items():
        _apply(tree, path.split("."), override)
    tree = _bound(tree)
    fixed, slots = _size(tree)
    shortest = _min_length(tree)
    # The budget is a target: a checklist so long that its structure alone fills it still gets
    # strings of SHORTEST_STRING characters, and a reply that may run past the target, but ends.
    chars = LONGEST_STRING if slots == 0 else max(shortest, SHORTEST_STRING,
                                                  min(LONGEST_STRING, (budget_bytes - fixed) // slots))
    _set_strings(tree, chars)
    return BoundedSchema(schema=tree, max_bytes=fixed + slots * chars, string_chars=chars)


# -- making the tree ---------------------------------------------------------------------------
def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("$defs", "default", "title")}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _branch(node: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional (anyOf [X, null]), or the node itself."""
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            return option
    return node


def _apply(tree: dict[str, Any], path: list[str], override: Override) -> None:
    parent, key = None, None
    node = tree
    for part in path:
        node = _branch(node)
        parent, key = (node, "items") if part == "items" else (node["properties"], part)
        node = parent[key]
    replacement = override(_branch(node))
    if "anyOf" in node:  # keep an optional optional
        node["anyOf"] = [replacement if o.get("type") != "null" else o for o in node["anyOf"]]
    else:
        parent[key] = replacement


def _bound(node: dict[str, Any]) -> dict[str, Any]:
    if "const" in node or "enum" in node:
        return node
    if "anyOf" in node:
        return {"anyOf": [_bound(o) for o in node["anyOf"]]}
    kind = node.get("type")
    if kind == "object":
        props = {k: _bound(v) for k, v in node.get("properties", {}).items()}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    if kind == "array":
        out = {k: v for k, v in node.items() if k not in ("description",)}
        if "prefixItems" in node:
            out["prefixItems"] = [_bound(i) for i in node["prefixItems"]]
            return out
        out["items"] = _bound(node["items"])
        out["maxItems"] = min(node.get("maxItems", ARRAY_CAP), max(ARRAY_CAP, node.get("minItems", 0)))
        return out
    if kind in ("number", "integer"):
        return {"enum": _grid(node)}
    if kind == "string":
        return {"type": "string", "minLength": node.get("minLength", 0)}
    return node


def _grid(node: dict[str, Any]) -> list[float]:
    lo, hi = node.get("minimum", 0.0), node.get("maximum", 1.0)
    values = [v for v in GRID if lo <= v <= hi]
    if "exclusiveMinimum" in node:
        values = [v for v in values if v > node["exclusiveMinimum"]]
    if "exclusiveMaximum" in node:
        values = [v for v in values if v < node["exclusiveMaximum"]]
    if node.get("type") == "integer":
        return list(range(int(lo), int(hi) + 1)) if hi - lo <= 100 else list(range(101))
    return values or [lo]


# -- measuring it ------------------------------------------------------------------------------
def _size(node: dict[str, Any]) -> tuple[int, int]:
    """(fixed bytes, free-string slots) of the longest value the node allows: its length is
    fixed + slots * L for strings of at most L characters."""
    if "const" in node:
        return len(json.dumps(node["const"])), 0
    if "enum" in node:
        return max(len(json.dumps(v)) for v in node["enum"]), 0
    if "anyOf" in node:
        sizes = [_size(o) for o in node["anyOf"]]
        return max(a for a, _ in sizes), max(b for _, b in sizes)
    kind = node.get("type")
    if kind == "object":
        parts = [(len(json.dumps(k)) + COLON + a, b) for k, (a, b) in
                 ((k, _size(v)) for k, v in node["properties"].items())]
        return 2 + sum(a for a, _ in parts) + SEP * max(0, len(parts) - 1), sum(b for _, b in parts)
    if kind == "array":
        if "prefixItems" in node:
            parts = [_size(i) for i in node["prefixItems"]]
        else:
            parts = [_size(node["items"])] * node["maxItems"]
        return 2 + sum(a for a, _ in parts) + SEP * max(0, len(parts) - 1), sum(b for _, b in parts)
    if kind == "string":
        return 2, 1
    return {"boolean": 5, "null": 4}.get(kind, 8), 0


def _min_length(node: Any) -> int:
    if isinstance(node, dict):
        here = node.get("minLength", 0) if node.get("type") == "string" else 0
        return max([here] + [_min_length(v) for v in node.values()])
    if isinstance(node, list):
        return max([0] + [_min_length(v) for v in node])
    return 0


def _set_strings(node: Any, chars: int) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "minLength" in node:
            node["pattern"] = f"^{STRING_CHARS}{{{node.pop('minLength')},{chars}}}$"
        for value in node.values():
            _set_strings(value, chars)
    elif isinstance(node, list):
        for value in node:
            _set_strings(value, chars)
