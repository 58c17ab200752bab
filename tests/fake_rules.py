"""What the real Gemini API refuses, checked by the fake on every generate call, so that
a translator that sends what Google would refuse fails its tests too.

- unknown top-level fields and unknown `generationConfig` fields (400 "Unknown name");
- schema keywords Gemini's `parameters` / `responseSchema` do not take ($ref,
  additionalProperties, const, $schema, ...), and the 2026 schema value rules: enum
  only on strings, non-empty `properties` on OBJECT, `items` on ARRAY;
- on Gemini 3 models, a function call of the current turn (after the last user text)
  without its `thoughtSignature` ("Function call is missing a thought_signature");
- the JSON Schema fields (`parametersJsonSchema`, `responseJsonSchema`): each excludes
  its OpenAPI twin (`parameters`, `responseSchema`), `responseJsonSchema` needs
  `responseMimeType: application/json`, a tool's schema must describe an object, and
  enum values must be strings or numbers (Google documents "enum (for strings and
  numbers)"); `nullable` is OpenAPI, not JSON Schema, and is refused here to be safe;
- `functionResponse.parts` (multimodal function responses) only on Gemini 3 models,
  each part one `inlineData` {mimeType, data} or `fileData` {fileUri}.
"""

from __future__ import annotations

from typing import Any

TOP_LEVEL = frozenset(
    {
        "model",
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
        "labels",
    }
)
GENERATION_CONFIG = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
        "responseModalities",
        "speechConfig",
        "imageConfig",
        "responseLogprobs",
        "logprobs",
        "mediaResolution",
        "enableEnhancedCivicAnswers",
    }
)
SCHEMA_KEYS = frozenset(
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


def unknown_name(name: str, where: str) -> str:
    return f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."


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


JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


def json_schema_problem(node: Any, where: str) -> str | None:
    """Why Gemini's JSON Schema fields would refuse `node` (a JSON Schema), or None."""
    if isinstance(node, bool):
        return None
    if not isinstance(node, dict):
        return f"Invalid value at '{where}': a JSON schema must be an object or a boolean."
    if "nullable" in node:
        return f"Invalid JSON schema at '{where}': nullable is not a JSON Schema keyword; use a null type."
    kinds = node.get("type", [])
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind not in JSON_TYPES:
            return f"Invalid JSON schema at '{where}.type': {kind!r} is not a JSON Schema type."
    if "enum" in node:
        values = node["enum"]
        if not isinstance(values, list) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values
        ):
            return f"Invalid JSON schema at '{where}.enum': enum values must be strings or numbers."
    subs = [(f"{where}.properties.{k}", v) for k, v in (node.get("properties") or {}).items()]
    subs += [(f"{where}.items", node["items"])] if "items" in node else []
    subs += [(f"{where}.anyOf[{i}]", v) for i, v in enumerate(node.get("anyOf") or [])]
    for path, sub in subs:
        if (problem := json_schema_problem(sub, path)) is not None:
            return problem
    return None


def declaration_problem(declaration: dict, where: str) -> str | None:
    if "parameters" in declaration and "parametersJsonSchema" in declaration:
        return f"* GenerateContentRequest.{where}: parameters and parameters_json_schema are mutually exclusive."
    if "parameters" in declaration:
        return schema_problem(declaration["parameters"], f"{where}.parameters")
    if "parametersJsonSchema" in declaration:
        given = declaration["parametersJsonSchema"]
        if not isinstance(given, dict) or given.get("type") != "object":
            return f"* GenerateContentRequest.{where}.parameters_json_schema: must describe an object."
        return json_schema_problem(given, f"{where}.parameters_json_schema")
    return None


def config_problem(config: dict) -> str | None:
    if "responseSchema" in config and "responseJsonSchema" in config:
        return "* GenerateContentRequest.generation_config: response_schema and response_json_schema are mutually exclusive."
    if "responseSchema" in config:
        return schema_problem(config["responseSchema"], "generation_config.response_schema")
    if "responseJsonSchema" in config:
        if config.get("responseMimeType") != "application/json":
            return "* GenerateContentRequest.generation_config.response_mime_type: must be application/json with response_json_schema."
        return json_schema_problem(config["responseJsonSchema"], "generation_config.response_json_schema")
    return None


def function_response_problem(model: str, payload: dict) -> str | None:
    for c, content in enumerate(payload.get("contents") or []):
        for p, part in enumerate(content.get("parts") or []):
            response = part.get("functionResponse")
            if not isinstance(response, dict) or "parts" not in response:
                continue
            where = f"contents[{c}].parts[{p}].function_response.parts"
            if not model.startswith("gemini-3"):
                return (
                    f"* GenerateContentRequest.{where}: multimodal function responses are not supported by this model."
                )
            for inner in response["parts"]:
                blob, file = inner.get("inlineData"), inner.get("fileData")
                if len(inner) != 1 or not (
                    (isinstance(blob, dict) and blob.get("mimeType") and blob.get("data"))
                    or (isinstance(file, dict) and file.get("fileUri"))
                ):
                    return (
                        unknown_name(next(iter(inner), ""), where)
                        if inner
                        else f"* GenerateContentRequest.{where}: empty part."
                    )
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
            if (found := declaration_problem(declaration, f"tools[{t}].function_declarations[{d}]")) is not None:
                return found
    if (found := config_problem(payload.get("generationConfig") or {})) is not None:
        return found
    if (found := function_response_problem(model, payload)) is not None:
        return found
    return missing_signature(model, payload)
