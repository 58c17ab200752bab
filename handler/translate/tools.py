"""Tool calls and tool results in Gemini's terms, shared by the translated protocols
(OpenAI chat, Responses, Anthropic Messages), so that each convention lives once:

- a call's `arguments` that are not a JSON object are forwarded as
  `{"arguments": "<raw text>"}`, not refused (decision 4): a model's own broken output
  must not break the conversation;
- a tool result that parses as a JSON object is sent as it is; any other JSON value as
  `{"result": <value>}`, other text as `{"result": "<text>"}` (decision 3), because
  Gemini's `functionResponse.response` must be an object;
- a function without parameters is declared without `parameters` (Gemini refuses an
  OBJECT schema with empty `properties`);
- a Gemini 3 model turn whose calls carry no signature (history from another model, or
  a client that dropped it) gets Google's documented skip sentinel on its first call.
"""

from __future__ import annotations

import json
from typing import Any

from . import schema
from .thinking import SKIP_SIGNATURE

# OpenAI's tool_choice strings -> Gemini function calling modes ("required" is ANY).
TOOL_CHOICE = {"none": "NONE", "auto": "AUTO", "required": "ANY"}


def arguments(raw: Any) -> dict[str, Any]:
    """A tool call's `arguments` (a JSON string) as Gemini `args` (decision 4)."""
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


def result_object(content: Any) -> dict[str, Any]:
    """A tool result (text, or an already parsed value) as a functionResponse
    `response`, which Gemini wants as an object (decision 3)."""
    if content is None:
        content = ""
    if not isinstance(content, str):
        return content if isinstance(content, dict) else {"result": content}
    try:
        value = json.loads(content)
    except ValueError:
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}


def has_parameters(parameters: dict[str, Any]) -> bool:
    """False for an empty object schema, which Gemini refuses ("properties should be
    non-empty for OBJECT type"); a function without parameters is declared without."""
    return parameters.get("type", "object") != "object" or bool(parameters.get("properties")) or any(
        key in parameters for key in ("anyOf", "oneOf", "allOf", "$ref")
    )


def declaration(name: str, description: Any, parameters: Any) -> dict[str, Any]:
    """A Gemini function declaration; the JSON Schema goes through the shared converter."""
    out: dict[str, Any] = {"name": name}
    if description:
        out["description"] = description
    if isinstance(parameters, dict) and has_parameters(parameters):
        out["parameters"] = schema.to_gemini_schema(parameters)
    return out


def sign_first_call(parts: list[dict[str, Any]]) -> None:
    """Give a Gemini 3 model turn without any signed call the skip sentinel on its
    first call (Gemini refuses the whole request otherwise)."""
    calls = [part for part in parts if "functionCall" in part]
    if calls and not any(part.get("thoughtSignature") for part in calls):
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE
