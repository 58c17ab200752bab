"""Function-calling conventions every translated API shares (decisions 2-4 in the
project notes), so that the OpenAI and Anthropic routes send Gemini the same thing:

- a tool result is always a JSON object for Gemini's `functionResponse.response`: a
  JSON object as it is, any other JSON value as `{"result": value}`, text that is not
  JSON as `{"result": text}` (decision 3);
- a tool call's arguments that are not a JSON object are forwarded as
  `{"arguments": raw}`, never refused: a model's own broken output must not break the
  conversation (decision 4);
- a function without parameters is declared without `parameters` (Gemini refuses an
  empty object schema); a schema whose enums hold numbers or booleans goes as
  `parametersJsonSchema`, so the arguments come back with the client's types;
- the least blocking safety thresholds, which a gateway's users expect.
"""

from __future__ import annotations

import json
from typing import Any

from . import schema

DEFAULT_SAFETY = [
    {"category": category, "threshold": "OFF"}
    for category in (
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    )
]


def arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments (an object, or JSON text) as Gemini `args`."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {"arguments": raw}
        if isinstance(value, dict):
            return value
    return {"arguments": raw}


def result_object(text: str) -> dict[str, Any]:
    """A tool result's text as a functionResponse `response` (always an object)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def has_parameters(parameters: dict[str, Any]) -> bool:
    """False for an empty object schema, which Gemini refuses ("properties should be
    non-empty for OBJECT type"); a function without parameters is declared without."""
    return parameters.get("type", "object") != "object" or bool(parameters.get("properties")) or any(
        key in parameters for key in ("anyOf", "oneOf", "allOf", "$ref")
    )


def declaration(name: str, description: Any, parameters: Any) -> dict[str, Any]:
    """A Gemini functionDeclaration; the JSON Schema through the shared converter."""
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if isinstance(parameters, dict) and has_parameters(parameters):
        # An enum of numbers or booleans goes as `parametersJsonSchema`, which keeps it
        # typed; any other schema as `parameters` (schema.to_typed_gemini_schema).
        converted, typed = schema.to_typed_gemini_schema(parameters)
        out["parametersJsonSchema" if typed else "parameters"] = converted
    return out
