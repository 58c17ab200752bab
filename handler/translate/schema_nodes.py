"""Facts about one JSON Schema node, and the small rewrites of one, for `schema`'s walk.

Pure functions of a node (never changed, but for `json_schema_form`, which rewrites the
converter's own output): what type its keywords imply, whether it stands for null,
what replaces it past the depth limit.
"""

from __future__ import annotations

import json
from typing import Any

TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
ANNOTATIONS = ("title", "description", "default", "example")
ARRAY_FALLBACK_ITEMS = {"type": "string"}


def text(value: Any) -> str:
    """A value as Gemini's string-only places take it: strings as they are, else JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def typed_kind(values: list[Any], kind: Any) -> str | None:
    """The type an enum keeps in the JSON Schema form: integer / number for numbers
    (number if the declared type or a value says so), boolean for booleans; None
    when the enum is to be sent as strings."""
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    whole = all(isinstance(v, int) or float(v).is_integer() for v in values)
    return "integer" if whole and kind != "number" else "number"


def json_schema_form(node: dict[str, Any]) -> dict[str, Any]:
    """A converted schema as JSON Schema: `nullable` (OpenAPI only) becomes a `null`
    type or a `null` branch. Changes `node` in place (it is the converter's own output)."""
    for sub in (node.get("properties") or {}).values():
        json_schema_form(sub)
    if isinstance(node.get("items"), dict):
        json_schema_form(node["items"])
    for branch in node.get("anyOf") or ():
        json_schema_form(branch)
    if node.pop("nullable", None):
        if "anyOf" in node:
            node["anyOf"].append({"type": "null"})
        elif "enum" in node:
            inner = {k: node.pop(k) for k in list(node) if k not in ANNOTATIONS}
            node["anyOf"] = [inner, {"type": "null"}]
        else:
            node["type"] = [node["type"], "null"]
    return node


def implied_type(node: dict[str, Any]) -> str | None:
    """The type that a node without one implies by its other keywords."""
    if isinstance(node.get("properties"), dict) or "additionalProperties" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    if any(k in node for k in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    return None


def is_null(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return (
        kind == "null" or kind == ["null"] or ("const" in node and node["const"] is None) or node.get("enum") == [None]
    )


def has_own_shape(node: dict[str, Any]) -> bool:
    """Whether the keys beside an `anyOf` constrain the value (not only describe it)."""
    return any(k in node for k in ("type", "properties", "items", "enum", "const"))


def cut_off(node: dict[str, Any]) -> dict[str, Any]:
    """What stands for a schema past the recursion or depth limit: its type, described."""
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), None)
    kind = kind.lower() if isinstance(kind, str) else None
    kind = kind if kind in TYPES else (implied_type(node) or "object")
    out: dict[str, Any] = {"type": kind}
    if isinstance(node.get("description"), str) and node["description"]:
        out["description"] = node["description"]
    if kind == "array":
        out["items"] = dict(ARRAY_FALLBACK_ITEMS)
    return out
