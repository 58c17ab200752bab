"""What the real Gemini API refuses, checked by the fake on every generate call, so that
a translator that sends what Google would refuse fails its tests too.

- unknown top-level fields and unknown `generationConfig` fields (400 "Unknown name");
- schema keywords Gemini's `parameters` / `responseSchema` do not take ($ref,
  additionalProperties, const, $schema, ...), and the 2026 schema value rules: enum
  only on strings, non-empty `properties` on OBJECT, `items` on ARRAY;
- on Gemini 3 models, a function call of the current turn (after the last user text)
  without its `thoughtSignature` ("Function call is missing a thought_signature").
"""

from __future__ import annotations

from typing import Any

TOP_LEVEL = frozenset(
    {"model", "contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "generationConfig", "cachedContent", "labels"}
)
GENERATION_CONFIG = frozenset(
    {
        "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences", "presencePenalty",
        "frequencyPenalty", "seed", "responseMimeType", "responseSchema", "responseJsonSchema", "thinkingConfig",
        "responseModalities", "speechConfig", "imageConfig", "responseLogprobs", "logprobs", "mediaResolution",
        "enableEnhancedCivicAnswers",
    }
)
SCHEMA_KEYS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "properties", "required", "propertyOrdering",
        "minProperties", "maxProperties", "items", "minItems", "maxItems", "minimum", "maximum", "minLength",
        "maxLength", "pattern", "anyOf", "default", "example",
    }
)


def unknown_name(name: str, where: str) -> str:
    return f'Invalid JSON payload received. Unknown name "{name}" at \'{where}\': Cannot find field.'


def schema_problem(node: Any, where: str) -> str | None:
    if not isinstance(node, dict):
        return f"Invalid value at '{where}': a schema must be an object."
    for key in node:
        if key not in SCHEMA_KEYS:
            return unknown_name(key, where)
    kind = str(node.get("type", "")).upper()
    if "enum" in node and (kind != "STRING" or not all(isinstance(v, str) for v in node["enum"])):
        return f"* GenerateContentRequest.{where}.enum: only allowed for STRING type"
    if kind == "OBJECT" and "properties" in node and not node["properties"]:
        return f"* GenerateContentRequest.{where}.properties: should be non-empty for OBJECT type"
    if kind == "ARRAY" and "items" not in node:
        return f"* GenerateContentRequest.{where}.items: missing field."
    for name, sub in (node.get("properties") or {}).items():
        if (problem := schema_problem(sub, f"{where}.properties[{name}]")) is not None:
            return problem
    if "items" in node and (problem := schema_problem(node["items"], f"{where}.items")) is not None:
        return problem
    for i, sub in enumerate(node.get("anyOf") or []):
        if (problem := schema_problem(sub, f"{where}.any_of[{i}]")) is not None:
            return problem
    return None


def missing_signature(model: str, payload: dict) -> str | None:
    if not model.startswith("gemini-3"):
        return None
    contents = payload.get("contents") or []
    start = 0
    for i, content in enumerate(contents):
        parts = content.get("parts") or []
        if content.get("role") == "user" and any("text" in p for p in parts):
            start = i
    for position, content in enumerate(contents[start:], start=start):
        if content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if calls and not calls[0].get("thoughtSignature"):
            name = calls[0]["functionCall"].get("name")
            return (
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to "
                f"work correctly. Additional data, function call `default_api:{name}` , position {position + 1}."
            )
    return None


def problem(model: str, payload: Any) -> str | None:
    """Why the real API would answer 400 to this generate request, or None."""
    if not isinstance(payload, dict):
        return "Invalid JSON payload received."
    for key in payload:
        if key not in TOP_LEVEL:
            return unknown_name(key, "")
    for key in payload.get("generationConfig") or {}:
        if key not in GENERATION_CONFIG:
            return unknown_name(key, "generation_config")
    for t, tool in enumerate(payload.get("tools") or []):
        for d, declaration in enumerate(tool.get("functionDeclarations") or []):
            if "parameters" in declaration:
                where = f"tools[{t}].function_declarations[{d}].parameters"
                if (found := schema_problem(declaration["parameters"], where)) is not None:
                    return found
    config = payload.get("generationConfig") or {}
    if "responseSchema" in config and (found := schema_problem(config["responseSchema"], "generation_config.response_schema")):
        return found
    return missing_signature(model, payload)
