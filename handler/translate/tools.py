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
- a Gemini 3 model turn whose calls carry no signature (history from another model, or
  a client that dropped it) gets Google's documented skip sentinel on its first call;
- the least blocking safety thresholds, which a gateway's users expect.
"""

from __future__ import annotations

import json
from typing import Any

from ..encoding import loads
from ..errors import BadRequest
from . import schema
from .thinking import SKIP_SIGNATURE

# OpenAI's tool_choice strings -> Gemini function calling modes ("required" is ANY).
TOOL_CHOICE = {"none": "NONE", "auto": "AUTO", "required": "ANY"}

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


def arguments(raw: Any, param: str | None = None) -> dict[str, Any]:
    """A tool call's `arguments` (a JSON string) as Gemini `args` (decision 4)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = nested_json(raw, param)
        except ValueError:
            return {"arguments": raw}
        if isinstance(value, dict):
            return value
    return {"arguments": raw}


def nested_json(text: str, param: str | None) -> Any:
    """JSON inside a string (a tool call's arguments, a tool result): ValueError when it
    is not JSON; a 400 naming `param` when it is JSON that cannot be sent on (nested
    too deeply, NaN, numbers out of range)."""
    try:
        return loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:
        where = param or "A tool call or result"
        raise BadRequest(f"{where} holds JSON that is nested too deeply or has numbers out of range.", param) from None


def result_object(content: Any, param: str | None = None) -> dict[str, Any]:
    """A tool result (text, or an already parsed value) as a functionResponse
    `response`, which Gemini wants as an object (decision 3)."""
    if content is None:
        content = ""
    if not isinstance(content, str):
        return content if isinstance(content, dict) else {"result": content}
    try:
        value = nested_json(content, param)
    except ValueError:
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}


def has_parameters(parameters: dict[str, Any]) -> bool:
    """False for an empty object schema, which Gemini refuses ("properties should be
    non-empty for OBJECT type"); a function without parameters is declared without."""
    return (
        parameters.get("type", "object") != "object"
        or bool(parameters.get("properties"))
        or any(key in parameters for key in ("anyOf", "oneOf", "allOf", "$ref"))
    )


def declaration(
    name: str, description: Any, parameters: Any, param: str | None = None, budget: schema.Budget | None = None
) -> dict[str, Any]:
    """A Gemini functionDeclaration; the JSON Schema through the shared converter, under
    the request's `budget` (one for all its tools), refusals naming `param`."""
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if isinstance(parameters, dict) and has_parameters(parameters):
        # An enum of numbers or booleans goes as `parametersJsonSchema`, which keeps it
        # typed; any other schema as `parameters` (schema.to_typed_gemini_schema).
        converted, typed = schema.to_typed_gemini_schema(parameters, param, budget)
        out["parametersJsonSchema" if typed else "parameters"] = converted
    return out


def sign_first_call(parts: list[dict[str, Any]]) -> None:
    """Give a Gemini 3 model turn without any signed call the skip sentinel on its
    first call (Gemini refuses the whole request otherwise)."""
    calls = [part for part in parts if "functionCall" in part]
    if calls and not any(part.get("thoughtSignature") for part in calls):
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE
