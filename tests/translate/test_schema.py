"""JSON Schema -> Gemini schema, with schemas as real clients send them.

Each case asserts the exact output; `assert_gemini_accepts` walks every output and
checks each key and value against what Gemini's Schema object takes.
"""

from __future__ import annotations

import copy

import pytest

from handler.translate.schema import ALLOWED_KEYS, FORMATS, MAX_DEPTH, to_gemini_schema

TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def assert_gemini_accepts(schema: dict, where: str = "$") -> None:
    """Every rule Gemini enforces on `parameters` / `responseSchema` that we know of."""
    assert isinstance(schema, dict), where
    unknown = set(schema) - ALLOWED_KEYS
    assert not unknown, f"{where}: keys Gemini rejects: {unknown}"
    kind = schema.get("type")
    if "anyOf" in schema:
        assert kind is None and schema["anyOf"], f"{where}: anyOf"
    else:
        assert kind in TYPES, f"{where}: type {kind!r}"  # Gemini refuses a node without a type
    if "enum" in schema:
        assert kind == "string" and all(isinstance(v, str) for v in schema["enum"]), where
    if "format" in schema:
        assert schema["format"] in FORMATS[kind], f"{where}: format {schema['format']!r} on {kind}"
    if "properties" in schema:
        assert kind == "object" and schema["properties"], f"{where}: properties"
        for name, sub in schema["properties"].items():
            assert_gemini_accepts(sub, f"{where}.{name}")
    if "required" in schema:
        assert set(schema["required"]) <= set(schema.get("properties", {})), f"{where}: required"
    if kind == "array":
        assert isinstance(schema.get("items"), dict) and schema["items"], f"{where}: array needs items"
        assert_gemini_accepts(schema["items"], f"{where}[]")
    else:
        assert "items" not in schema, f"{where}: items on {kind}"
    for i, branch in enumerate(schema.get("anyOf", [])):
        assert_gemini_accepts(branch, f"{where}.anyOf[{i}]")


# Claude Code's TodoWrite tool (zod-to-json-schema output).
CLAUDE_TODO = {
    "type": "object",
    "properties": {
        "todos": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                    "activeForm": {"type": "string", "minLength": 1},
                },
                "required": ["content", "status", "activeForm"],
                "additionalProperties": False,
            },
            "description": "The updated todo list",
        }
    },
    "required": ["todos"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}

# An MCP server written with FastMCP / pydantic: $defs, Optional[...] as anyOf-null, titles.
MCP_PYDANTIC = {
    "$defs": {
        "Priority": {"enum": [1, 2, 3], "title": "Priority", "type": "integer"},
        "Label": {
            "properties": {
                "name": {"title": "Name", "type": "string"},
                "color": {
                    "anyOf": [{"type": "string", "pattern": "^#[0-9a-f]{6}$"}, {"type": "null"}],
                    "default": None,
                    "title": "Color",
                },
            },
            "required": ["name"],
            "title": "Label",
            "type": "object",
        },
    },
    "properties": {
        "title": {"title": "Title", "type": "string", "maxLength": 200},
        "priority": {"$ref": "#/$defs/Priority", "default": 2},
        "labels": {"items": {"$ref": "#/$defs/Label"}, "title": "Labels", "type": "array", "maxItems": 10},
        "due": {
            "anyOf": [{"format": "date-time", "type": "string"}, {"type": "null"}],
            "default": None,
            "description": "When it is due",
        },
        "assignee": {"anyOf": [{"$ref": "#/$defs/Label"}, {"type": "null"}], "default": None},
    },
    "required": ["title", "priority", "ghost"],
    "title": "create_issueArguments",
    "type": "object",
}

# An MCP server written with the TypeScript SDK + zod: const unions, uri format,
# exclusiveMinimum, a free-form object, a tool with no arguments inside.
MCP_ZOD = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri", "description": "Page to fetch"},
        "mode": {"anyOf": [{"const": "markdown", "description": "As markdown"}, {"const": "html"}]},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 10},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "options": {"type": "object", "properties": {}, "additionalProperties": False},
        "retries": {"type": ["integer", "null"], "minimum": 0},
        "tags": {"type": "array"},
        "limit": {"type": "integer", "format": "uint32"},
        "strictFlag": {"type": "boolean", "const": True},
    },
    "required": ["url"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}

# A strict structured-output schema as the openai SDK sends it from a pydantic model.
RESPONSE_STRICT = {
    "$defs": {
        "Step": {
            "additionalProperties": False,
            "properties": {
                "explanation": {"title": "Explanation", "type": "string"},
                "output": {"title": "Output", "type": "string"},
            },
            "required": ["explanation", "output"],
            "title": "Step",
            "type": "object",
        }
    },
    "additionalProperties": False,
    "properties": {
        "steps": {"items": {"$ref": "#/$defs/Step"}, "title": "Steps", "type": "array"},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number", "format": "double"}}},
        "final_answer": {"title": "Final Answer", "type": "string"},
    },
    "required": ["steps", "matrix", "final_answer"],
    "title": "MathReasoning",
    "type": "object",
    "strict": True,
}


def test_claude_code_todo_tool():
    assert to_gemini_schema(CLAUDE_TODO) == {
        "type": "object",
        "properties": {
            "todos": {
                "type": "array",
                "description": "The updated todo list",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string", "minLength": 1},
                        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                        "activeForm": {"type": "string", "minLength": 1},
                    },
                    "required": ["content", "status", "activeForm"],
                },
            }
        },
        "required": ["todos"],
    }


def test_mcp_pydantic_tool_with_defs_and_optionals():
    label = {
        "type": "object",
        "title": "Label",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "color": {
                "type": "string",
                "pattern": "^#[0-9a-f]{6}$",
                "title": "Color",
                "default": None,
                "nullable": True,
            },
        },
        "required": ["name"],
    }
    assert to_gemini_schema(MCP_PYDANTIC) == {
        "type": "object",
        "title": "create_issueArguments",
        "properties": {
            "title": {"type": "string", "title": "Title", "maxLength": 200},
            "priority": {"type": "string", "title": "Priority", "enum": ["1", "2", "3"], "default": "2"},
            "labels": {"type": "array", "title": "Labels", "items": label, "maxItems": 10},
            "due": {
                "type": "string",
                "format": "date-time",
                "description": "When it is due",
                "default": None,
                "nullable": True,
            },
            "assignee": {**label, "default": None, "nullable": True},
        },
        "required": ["title", "priority"],  # "ghost" names no property
    }


def test_mcp_zod_tool():
    assert to_gemini_schema(MCP_ZOD) == {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "Page to fetch"},  # uri: not a Gemini format
            "mode": {
                "anyOf": [
                    {"type": "string", "enum": ["markdown"], "description": "As markdown"},
                    {"type": "string", "enum": ["html"]},
                ]
            },
            "timeout": {"type": "number", "maximum": 60, "default": 10},
            "headers": {"type": "object"},
            "options": {"type": "object"},  # empty properties: Gemini says "should be non-empty"
            "retries": {"type": "integer", "minimum": 0, "nullable": True},
            "tags": {"type": "array", "items": {"type": "string"}},  # Gemini: "items: missing field"
            "limit": {"type": "integer"},
            "strictFlag": {"type": "string", "enum": ["true"]},
        },
        "required": ["url"],
    }


def test_strict_response_schema_with_nested_arrays():
    step = {
        "type": "object",
        "title": "Step",
        "properties": {
            "explanation": {"type": "string", "title": "Explanation"},
            "output": {"type": "string", "title": "Output"},
        },
        "required": ["explanation", "output"],
    }
    assert to_gemini_schema(RESPONSE_STRICT) == {
        "type": "object",
        "title": "MathReasoning",
        "properties": {
            "steps": {"type": "array", "title": "Steps", "items": step},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number", "format": "double"}}},
            "final_answer": {"type": "string", "title": "Final Answer"},
        },
        "required": ["steps", "matrix", "final_answer"],
    }


def test_recursive_ref_is_cut_off():
    tree = {
        "type": "object",
        "properties": {"root": {"$ref": "#/definitions/Node"}},
        "definitions": {
            "Node": {
                "type": "object",
                "description": "A tree node",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                },
            }
        },
    }
    leaf = {"type": "object", "description": "A tree node"}
    level2 = {
        "type": "object",
        "description": "A tree node",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": leaf}},
    }
    level1 = {
        "type": "object",
        "description": "A tree node",
        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": level2}},
    }
    assert to_gemini_schema(tree) == {"type": "object", "properties": {"root": level1}}


def test_self_reference_to_root_and_deep_nesting_terminate():
    # The root itself, then two expansions of the reference, then the cut-off.
    assert to_gemini_schema({"type": "object", "properties": {"next": {"$ref": "#"}}}) == {
        "type": "object",
        "properties": {
            "next": {
                "type": "object",
                "properties": {"next": {"type": "object", "properties": {"next": {"type": "object"}}}},
            }
        },
    }
    deep: dict = {"type": "string"}
    for _ in range(MAX_DEPTH + 20):
        deep = {"type": "array", "items": deep}
    out = to_gemini_schema(deep)
    depth = 0
    while "items" in out:
        out, depth = out["items"], depth + 1
    assert depth == MAX_DEPTH + 1  # the last level is a cut-off array with fallback items


def test_all_of_merged_and_one_of_as_any_of():
    schema = {
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"type": "object", "properties": {"extra": {"type": "boolean"}}, "required": ["extra"]},
        ],
        "description": "Merged",
        "$defs": {"Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}},
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "description": "Merged",
        "properties": {"extra": {"type": "boolean"}, "id": {"type": "string"}},
        "required": ["id", "extra"],
    }
    assert to_gemini_schema(
        {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "description": "d"}
    ) == {
        "description": "d",
        "anyOf": [{"type": "string", "nullable": True}, {"type": "integer", "nullable": True}],
    }


def test_type_lists_constraints_and_union_beside_shape():
    assert to_gemini_schema({"type": ["string", "number"], "description": "x", "minLength": 2}) == {
        "description": "x",
        "anyOf": [{"type": "string", "minLength": 2}, {"type": "number"}],
    }
    assert to_gemini_schema({"type": "null"}) == {"type": "string", "nullable": True}
    # An anyOf of `required` alternatives beside the properties keeps the properties.
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    props = {"a": {"type": "string"}, "b": {"type": "string"}}
    assert to_gemini_schema(schema) == {
        "anyOf": [
            {"type": "object", "properties": props, "required": ["a"]},
            {"type": "object", "properties": props, "required": ["b"]},
        ]
    }


def test_keys_gemini_rejects_are_dropped_and_input_untouched():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:x",
        "$comment": "c",
        "type": "object",
        "strict": True,
        "examples": [{"q": "x"}],
        "properties": {
            "q": {
                "type": "string",
                "examples": ["a"],
                "deprecated": True,
                "readOnly": True,
                "contentEncoding": "base64",
            },
            "n": {"type": "integer", "multipleOf": 2, "exclusiveMaximum": 9, "minimum": 1.5},
            "s": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "contains": {"const": "x"}},
        },
        "patternProperties": {"^x-": {"type": "string"}},
        "not": {"required": ["z"]},
        "if": {},
        "then": {},
        "else": {},
        "minProperties": 1,
        "unevaluatedProperties": False,
    }
    before = copy.deepcopy(schema)
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "q": {"type": "string"},
            "n": {"type": "integer", "minimum": 1.5},
            "s": {"type": "array", "items": {"type": "string"}},
        },
        "minProperties": 1,
    }
    assert schema == before


@pytest.mark.parametrize(
    "schema",
    [
        CLAUDE_TODO,
        MCP_PYDANTIC,
        MCP_ZOD,
        RESPONSE_STRICT,
        {},
        {"type": "object", "properties": {}},
        {"$ref": "#/$defs/missing"},
    ],
)
def test_every_output_is_accepted_by_gemini(schema):
    assert_gemini_accepts(to_gemini_schema(schema))


def test_every_node_gets_a_type():
    schema = {
        "properties": {
            "value": {"description": "Anything"},
            "n": {"minimum": 1},
            "s": {"maxLength": 3},
            "free": {"additionalProperties": True},
            "whatever": True,
        }
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "value": {"type": "string", "description": "Anything"},
            "n": {"type": "number", "minimum": 1},
            "s": {"type": "string", "maxLength": 3},
            "free": {"type": "object"},
            "whatever": {"type": "string"},
        },
    }
    assert to_gemini_schema({}) == {"type": "object"}
    assert_gemini_accepts(to_gemini_schema(schema))
