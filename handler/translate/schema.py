"""JSON Schema (as OpenAI clients send it) -> the schema form Gemini accepts.

Gemini's `parameters` / `responseSchema` take a subset of the OpenAPI 3.0 Schema
object and answer 400 to any other key (`additionalProperties`, `$ref`, `const`, ...)
and to some values (`format: "uri"` on a string, an empty `properties` map, an array
without `items`, a non-string `enum`). Tool schemas from Claude Code, Cline and MCP
servers hit every one of these, so the conversion keeps what Gemini can express and
drops the rest:

- `$ref` is resolved against the root (`#/$defs/X`, `#/definitions/X`, `#`, any JSON
  pointer). A recursive reference is expanded at most `REF_REPEATS` times along one
  path, and any schema nested deeper than `MAX_DEPTH` levels is cut off; a cut-off
  node keeps only its type and description (an object becomes a free-form object).
- `const` becomes a one-value `enum`; enum values become strings (Gemini takes only
  string enums), with `type: "string"`; a `null` in an enum becomes `nullable`.
- `type: ["string", "null"]` becomes `type` + `nullable`; several non-null types
  become an `anyOf` of one branch per type. `anyOf` / `oneOf` with a null branch
  become `nullable` (`oneOf` is sent as `anyOf`: Gemini has no exclusive union); a
  single remaining branch is inlined, keeping the outer description.
- `allOf` is merged into one schema (properties and `required` united).
- `format` is kept only where Gemini takes it (string: enum, date-time; number:
  float, double; integer: int32, int64).
- Every node gets a type, as Gemini refuses one without: the type its keywords imply
  (`properties` -> object, `minimum` -> number, ...), else object at the root and
  string below it (a JSON Schema "any" value is best sent as text).
- `required` names that are not properties are removed; an empty `properties` map is
  left out (a bare `{"type": "object"}` is a free-form object to Gemini); an array
  without `items` gets string items; `properties` / `items` on other types go.
- Everything else (`additionalProperties`, `$schema`, `$id`, `strict`, `examples`,
  `exclusiveMinimum`, `multipleOf`, `uniqueItems`, `patternProperties`, `not`, ...)
  is dropped. Lowercase type names are sent, as Gemini's own examples do.

Pure (the input is never changed) and a single walk over the schema.

Bounded work: `$ref` chains and unions can make a small schema stand for a huge one, so
a `Budget` (nodes visited, characters copied out) refuses it past MAX_NODES / MAX_TEXT
with a 400 naming the field. A `type` that is not a name or a list of names, and a
`required` that is not a list of names (`"type": [[]]`, `"required": [["a"]]`, an
`allOf` part with `"required": 5`) make the schema malformed: a 400 naming the field,
as Gemini would refuse it (draft 3's boolean `required` on a property is ignored). Other
values of the wrong JSON type (a `$ref` to nothing, `"properties": [1]`) are ignored
like unknown keys. A `$ref` index into a list is at most 9 ASCII digits.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ..errors import BadRequest
from .schema_nodes import (
    ANNOTATIONS,
    ARRAY_FALLBACK_ITEMS,
    TYPES,
    cut_off,
    has_own_shape,
    implied_type,
    is_null,
    json_schema_form,
    text,
    typed_kind,
)

# Gemini's Schema fields (ai.google.dev/api/caching#Schema; js-genai types.Schema).
ALLOWED_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "properties",
        "required",
        "propertyOrdering",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "anyOf",
        "default",
        "example",
    }
)
FORMATS = {"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
REF_REPEATS = 2
MAX_DEPTH = 32
MAX_NODES = 5_000  # schema nodes visited per request's schemas, $ref expansions included
MAX_TEXT = 4_000_000  # characters of descriptions, enums, patterns, defaults copied out

_BOUNDS = ("minimum", "maximum")
_KIND_LIMITS = {
    "object": ("minProperties", "maxProperties"),
    "array": ("minItems", "maxItems"),
    "string": ("minLength", "maxLength", "pattern"),
    "number": _BOUNDS,
    "integer": _BOUNDS,
}
_LIMITS = frozenset(k for keys in _KIND_LIMITS.values() for k in keys)


class SchemaTooLarge(BadRequest):
    """A schema whose conversion would pass the budget."""


class MalformedSchema(BadRequest):
    """A schema whose `type` or `required` is not of the shape JSON Schema gives them."""


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class Budget:
    """What one request's conversions may spend: shared by all its tools."""

    __slots__ = ("nodes", "param", "text")

    def __init__(self, nodes: int = MAX_NODES, text: int = MAX_TEXT) -> None:
        self.nodes = nodes
        self.text = text
        self.param: str | None = None

    def spend(self, nodes: int = 0, text: int = 0) -> None:
        self.nodes -= nodes
        self.text -= text
        if self.nodes < 0 or self.text < 0:
            where = self.param or "A JSON schema"
            raise SchemaTooLarge(
                f"{where} is too large once its $refs and type lists are expanded (more than {MAX_NODES} "
                f"schema nodes or {MAX_TEXT} characters of text); simplify it.",
                self.param,
            )


def to_gemini_schema(schema: dict[str, Any], param: str | None = None, budget: Budget | None = None) -> dict[str, Any]:
    """A schema for Gemini's `parameters` / `responseSchema` (OpenAPI subset).
    `param` names the field in a refusal; `budget` defaults to a fresh one."""
    if not isinstance(schema, dict):
        schema = {}
    budget = budget or Budget()
    budget.param = param
    try:
        return _Converter(schema, budget).convert(schema, 0, ())
    except RecursionError:
        raise SchemaTooLarge(f"{param or 'A JSON schema'} is nested too deeply.", param) from None


def to_typed_gemini_schema(
    schema: dict[str, Any], param: str | None = None, budget: Budget | None = None
) -> tuple[dict[str, Any], bool]:
    """`to_gemini_schema` that keeps enums of numbers and booleans typed.

    Gemini's OpenAPI `parameters` / `responseSchema` take string enums only, so an
    `{"type": "integer", "enum": [1, 2]}` sent there comes back as `"2"`, which the
    client's own schema then refuses. Gemini's JSON Schema fields
    (`parametersJsonSchema`, `responseJsonSchema`) take enums of strings and numbers.
    So: (the JSON Schema form, True) when the schema has an enum of numbers or
    booleans, numbers kept as an enum and booleans as `type: boolean` (Gemini takes no
    boolean enum; a boolean is then any boolean); else (the OpenAPI form, False),
    unchanged. An enum that mixes strings with other values stays a string enum.
    """
    if not isinstance(schema, dict):
        schema = {}
    budget = budget or Budget()
    budget.param = param
    converter = _Converter(schema, budget, typed=True)
    try:
        out = converter.convert(schema, 0, ())
    except RecursionError:
        raise SchemaTooLarge(f"{param or 'A JSON schema'} is nested too deeply.", param) from None
    if not converter.typed_seen:
        return out, False
    return json_schema_form(out), True


class _Converter:
    def __init__(self, root: dict[str, Any], budget: Budget, typed: bool = False) -> None:
        self.root = root
        self.budget = budget
        self.typed = typed  # keep enums of numbers / booleans typed (JSON Schema form)
        self.typed_seen = False

    def resolve(self, ref: str) -> dict[str, Any] | None:
        """The schema a local `$ref` (a JSON pointer into the root) names, or None."""
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for token in unquote(ref[1:]).split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif (
                isinstance(node, list)
                and token.isascii()
                and token.isdigit()
                and len(token) <= 9
                and int(token) < len(node)
            ):
                node = node[int(token)]
            else:
                return None
        return node if isinstance(node, dict) else None

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """`node` with a top-level `$ref` replaced by its target (siblings win)."""
        seen = 0
        while isinstance(node.get("$ref"), str) and seen < MAX_DEPTH:
            target = self.resolve(node["$ref"]) or {}
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node

    def convert(self, node: Any, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        self.budget.spend(nodes=1)
        if not isinstance(node, dict):  # `true` (anything) or junk
            node = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self.resolve(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target is None:
                return self.convert(siblings, depth, refs)
            if refs.count(ref) >= REF_REPEATS:
                return cut_off({**target, **siblings})
            return self.convert({**target, **siblings}, depth, (*refs, ref))
        if depth >= MAX_DEPTH:
            return cut_off(node)
        self.check(node)
        if isinstance(node.get("allOf"), list):
            return self.convert(self.merge_all(node, refs), depth, refs)

        union = node.get("anyOf")
        if not isinstance(union, list):
            union = node.get("oneOf")
        if isinstance(union, list):
            return self.union(node, union, depth, refs)

        kind = node.get("type")
        if isinstance(kind, list):
            return self.type_list(node, kind, depth, refs)
        return self.single(node, kind, depth, refs)

    def check(self, node: dict[str, Any]) -> None:
        """MalformedSchema for a `type` or `required` of the wrong shape (see module)."""
        kind = node.get("type")
        required = node.get("required")
        if kind is not None and not isinstance(kind, str) and not _names(kind):
            problem = "its `type` must be a type name or a list of type names"
        elif required is not None and not isinstance(required, bool) and not _names(required):
            problem = "its `required` must be a list of property names"
        else:
            return
        where = self.budget.param or "A JSON schema"
        raise MalformedSchema(f"{where} is not a valid JSON schema: {problem}.", self.budget.param)

    def merge_all(self, node: dict[str, Any], refs: tuple[str, ...], level: int = 0) -> dict[str, Any]:
        """`allOf` folded into one schema: the node's own keys first, then each part's."""
        self.budget.spend(nodes=1)
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for part in node["allOf"]:
            if not isinstance(part, dict):
                continue
            part = self.deref(part)
            self.check(part)
            if isinstance(part.get("allOf"), list):
                part = self.merge_all(part, refs, level + 1) if level < MAX_DEPTH else {}
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    own = merged.get("properties")
                    merged["properties"] = {**value, **(own if isinstance(own, dict) else {})}
                elif key == "required" and isinstance(value, list):
                    own = merged.get("required")
                    names = [*(own if isinstance(own, list) else []), *value]
                    merged["required"] = list(dict.fromkeys(n for n in names if isinstance(n, str)))
                else:
                    merged.setdefault(key, value)
        return merged

    def union(self, node: dict[str, Any], branches: list[Any], depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        nullable = node.get("nullable") is True
        kept = []
        for branch in branches:
            if not isinstance(branch, dict):
                continue
            if is_null(self.deref(branch)):
                nullable = True
            else:
                kept.append(branch)
        outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if has_own_shape(outer):
            # Keys beside the union constrain every branch: X and (A or B) = (X and A) or (X and B).
            kept = [self.merge_all({**outer, "allOf": [branch]}, refs) for branch in kept]
        if len(kept) == 1:
            # Optional[X] as pydantic and zod write it: X itself, with the outer notes.
            out = self.convert(kept[0], depth + 1, refs)
            for key in ANNOTATIONS:
                if key in outer:
                    out[key] = outer[key]
        elif not kept:
            out = self.single(outer, "null", depth, refs)
        else:
            out = {k: v for k, v in self.single(outer, None, depth, refs).items() if k in ANNOTATIONS}
            out["anyOf"] = [self.convert(b, depth + 1, refs) for b in kept]
            if nullable:
                for branch in out["anyOf"]:
                    branch["nullable"] = True
                nullable = False
        if nullable:
            out["nullable"] = True
        return out

    def type_list(self, node: dict[str, Any], kinds: list[Any], depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        # "object", "OBJECT" and "Object" are one type: listed once, not one branch each.
        names = list(dict.fromkeys(k.lower() for k in kinds if isinstance(k, str)))
        nullable = "null" in names
        names = [k for k in names if k != "null"]
        if len(names) <= 1:
            out = self.single(node, names[0] if names else "null", depth, refs)
        else:
            bare = {k: v for k, v in node.items() if k not in ANNOTATIONS and k != "type"}
            out = {k: node[k] for k in ANNOTATIONS if k in node}
            out["anyOf"] = [self.single(bare, name, depth + 1, refs) for name in names]
        if nullable:
            out["nullable"] = True
        return out

    def single(self, node: dict[str, Any], kind: Any, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = kind.lower() if isinstance(kind, str) else None
        nullable = kind == "null"
        values = fmt = None
        limits: dict[str, Any] = {}
        # One pass over the node's own keys (a few), not a probe for every known one.
        for key, value in node.items():
            if key == "description" or key == "title":
                if isinstance(value, str) and value:
                    out[key] = value
                    self.budget.spend(text=len(value))
            elif key == "default" or key == "example":
                out[key] = value
                self.budget.spend(text=len(text(value)))
            elif key == "nullable":
                nullable = nullable or value is True
            elif key == "const":
                values = [value]
            elif key == "enum":
                if values is None and isinstance(value, list):
                    values = value
            elif key == "format":
                fmt = value
            elif key in _LIMITS:
                limits[key] = value

        if values is not None:
            nullable = nullable or None in values
            kind, values = self.enum(out, values, kind)
        if kind not in TYPES:
            kind = "string" if kind == "null" else implied_type(node)
        if kind is None:  # Gemini refuses a node without a type ("any" in JSON Schema)
            kind = "object" if depth == 0 else "string"
        out["type"] = kind
        if isinstance(fmt, str) and fmt in FORMATS.get(kind, ()):
            out["format"] = fmt
        if nullable:
            out["nullable"] = True
        self.limits(out, kind, limits, bool(values))
        if kind == "object":
            self.properties(out, node, depth, refs)
        elif kind == "array":
            self.items(out, node, depth, refs)
        return out

    def enum(self, out: dict[str, Any], values: list[Any], kind: str | None) -> tuple[str | None, list[Any] | None]:
        """An enum's values into `out` (strings for OpenAPI; typed in the JSON Schema
        form); the node's kind and values after that."""
        given = [v for v in values if v is not None]
        typed = typed_kind(given, kind) if self.typed else None
        kept: list[Any] | None
        if typed is not None:
            self.typed_seen = True
            kind = typed
            kept = given if typed != "boolean" else None
        else:
            kept = [text(v) for v in given]
        self.budget.spend(text=sum(len(text(v)) for v in kept or ()))
        if kept and typed is None:
            kind = "string"
            out["enum"] = kept
            for key in ("default", "example"):
                if out.get(key) is not None:
                    out[key] = text(out[key])
        elif kept:
            out["enum"] = kept
        return kind, kept

    def limits(self, out: dict[str, Any], kind: str, limits: dict[str, Any], has_enum: bool) -> None:
        """The bounds Gemini takes for this kind (a pattern only without an enum)."""
        for key in _KIND_LIMITS.get(kind, ()):
            value = limits.get(key)
            if key == "pattern":
                if isinstance(value, str) and not has_enum:
                    out[key] = value
                    self.budget.spend(text=len(value))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                if key in _BOUNDS:
                    out[key] = value
                elif value >= 0:
                    out[key] = int(value)

    def properties(self, out: dict[str, Any], node: dict[str, Any], depth: int, refs: tuple[str, ...]) -> None:
        """An object's properties (converted), and the `required` and ordering names that exist."""
        props = node.get("properties")
        if not isinstance(props, dict) or not props:
            return
        out["properties"] = {str(name): self.convert(sub, depth + 1, refs) for name, sub in props.items()}
        required = node.get("required")
        if isinstance(required, list):
            names = [r for r in dict.fromkeys(r for r in required if isinstance(r, str)) if r in props]
            if names:
                out["required"] = names
        ordering = node.get("propertyOrdering")
        if isinstance(ordering, list):
            names = [p for p in ordering if isinstance(p, str) and p in props]
            if names:
                out["propertyOrdering"] = names

    def items(self, out: dict[str, Any], node: dict[str, Any], depth: int, refs: tuple[str, ...]) -> None:
        """An array's items: the draft-4 tuple form and `prefixItems` as an anyOf; string items when none."""
        items = node.get("items")
        if isinstance(items, list):  # draft-4 tuple form
            items = {"anyOf": items} if len(items) > 1 else (items[0] if items else None)
        if not isinstance(items, dict) and isinstance(node.get("prefixItems"), list):
            prefix = node["prefixItems"]
            items = {"anyOf": prefix} if len(prefix) > 1 else (prefix[0] if prefix else None)
        out["items"] = self.convert(items, depth + 1, refs) if isinstance(items, dict) else dict(ARRAY_FALLBACK_ITEMS)
