"""An OpenAI chat completions request -> a Gemini generateContent request.

The body is walked once and a new Gemini request is built from it; nothing of the
OpenAI body is copied wholesale. Bad input raises `BadRequest` (400, with `param`)
before anything goes upstream. Unknown top-level fields are ignored; an unknown content
part type is refused, because dropping it would silently change the prompt.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..encoding import loads
from ..errors import BadRequest
from ..translate import media, params, schema
from ..translate.models import resolve_model
from ..translate.thinking import SKIP_SIGNATURE, needs_signatures, thinking_config

SEARCH_TOOL_NAME = "googleSearch"
# Least blocking thresholds; `extra_body.google.safety_settings` replaces them.
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

TOOL_CHOICE = {"none": "NONE", "auto": "AUTO", "required": "ANY"}

THINKING_KEYS = {
    "thinking_budget": "thinkingBudget",
    "include_thoughts": "includeThoughts",
    "thinking_level": "thinkingLevel",
}


@dataclass
class GeminiCall:
    """What the route needs to call Gemini and to shape the answer."""

    model: str
    payload: dict[str, Any]
    stream: bool
    include_usage: bool


def _google_extra(body: dict[str, Any]) -> dict[str, Any]:
    """`extra_body.google` as sent literally, or merged to the top level by the openai SDK."""
    extra = body.get("extra_body")
    google = extra.get("google") if isinstance(extra, dict) else None
    if not isinstance(google, dict):
        google = body.get("google")
    return google if isinstance(google, dict) else {}


async def to_gemini(body: dict[str, Any], settings: Settings) -> GeminiCall:
    """Translate a chat completions request body (already parsed JSON)."""
    model, search = resolve_model(body.get("model"), settings)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages is required and must be a non-empty list of messages.", "messages")

    payload: dict[str, Any] = {}
    system, contents = await _contents(messages, settings, model)
    payload["contents"] = contents
    if system:
        payload["systemInstruction"] = {"parts": system}

    tools, search_by_tool = _tools(body.get("tools"))
    tool_config = _tool_config(body.get("tool_choice"))
    if tool_config and tools:  # Gemini takes a function calling mode only with functions
        payload["toolConfig"] = tool_config
    if search or search_by_tool or body.get("web_search_options") is not None:
        tools.append({"googleSearch": {}})
    if tools:
        payload["tools"] = tools

    google = _google_extra(body)
    safety = google.get("safety_settings", google.get("safetySettings"))
    payload["safetySettings"] = safety if isinstance(safety, list) else DEFAULT_SAFETY
    cached = google.get("cached_content", google.get("cachedContent"))
    if cached:
        payload["cachedContent"] = cached

    config = _generation_config(body, model, google)
    if config:
        payload["generationConfig"] = config

    options = body.get("stream_options")
    stream = body.get("stream") is True
    include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    return GeminiCall(model=model, payload=payload, stream=stream, include_usage=include_usage)


# Messages ------------------------------------------------------------------------------


async def _contents(
    messages: list[Any], settings: Settings, model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents). Tool results are grouped into one user turn
    after the assistant message that made the calls, in the order of its calls."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    sign = needs_signatures(model)
    calls: dict[str, tuple[int, str]] = {}  # tool_call_id -> (position, name) of the last assistant turn
    results: list[tuple[int, dict[str, Any]]] | None = None  # the tool results being grouped

    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object.", f"messages[{i}]")
        role = message.get("role")
        if role != "tool" and results is not None:
            contents.append(_results_turn(results))
            results = None
        if role == "system" or role == "developer":
            system += _text_parts(message.get("content"), f"messages[{i}].content")
        elif role == "user":
            parts = await _user_parts(message.get("content"), settings, f"messages[{i}].content")
            if parts:
                contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            parts, calls = _assistant_parts(message, i, sign)
            if parts:
                contents.append({"role": "model", "parts": parts})
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise BadRequest(f"messages[{i}].tool_call_id must be a string.", f"messages[{i}].tool_call_id")
            if call_id not in calls:
                raise BadRequest(
                    f"messages[{i}] is a tool result for tool_call_id {call_id!r}, which matches no "
                    "tool call of the assistant message before it.",
                    f"messages[{i}].tool_call_id",
                )
            position, name = calls[call_id]
            response = _tool_result(message.get("content"), f"messages[{i}].content")
            if results is None:
                results = []
            results.append((position, {"functionResponse": {"name": name, "response": response}}))
        else:
            raise BadRequest(
                f"messages[{i}] has an unknown role {role!r}; use system, developer, user, assistant or tool.",
                f"messages[{i}].role",
            )
    if results is not None:
        contents.append(_results_turn(results))
    return system, contents


def _results_turn(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    results.sort(key=lambda item: item[0])
    return {"role": "user", "parts": [part for _, part in results]}


def _text_of(part: dict[str, Any], param: str) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise BadRequest(f"{param}.text must be a string.", param)
    return text


def _listed(content: Any, param: str) -> list[Any]:
    """Message content as a list of OpenAI parts: a string is one text part."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadRequest(f"{param} must be a string or a list of content parts.", param)
    return content


def _text_parts(content: Any, param: str) -> list[dict[str, Any]]:
    """Text-only content (system, developer, assistant): a string or a list of text parts."""
    if content is None:
        return []
    parts = []
    for j, part in enumerate(_listed(content, param)):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = _text_of(part, f"{param}[{j}]")
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            text = part["refusal"]
        else:
            raise BadRequest(f"{param}[{j}] has type {kind!r}; only text parts are allowed here.", f"{param}[{j}]")
        if text:
            parts.append({"text": text})
    return parts


async def _user_parts(content: Any, settings: Settings, param: str) -> list[dict[str, Any]]:
    parts = []
    for j, part in enumerate(_listed(content, param)):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = _text_of(part, where)
            if text:
                parts.append({"text": text})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise BadRequest(f"{where}.image_url.url must be a URL.", f"{where}.image_url")
            parts.append(await media.url_part(url, settings, f"{where}.image_url"))
        elif kind == "input_audio":
            parts.append(_audio_part(part.get("input_audio"), f"{where}.input_audio"))
        elif kind == "file":
            parts.append(await _file_part(part.get("file"), settings, f"{where}.file"))
        else:
            raise BadRequest(
                f"{where} has the content part type {kind!r}, which this proxy does not support "
                "(text, image_url, input_audio and file are).",
                f"{where}.type",
            )
    return parts


def _audio_part(audio: Any, param: str) -> dict[str, Any]:
    data = audio.get("data") if isinstance(audio, dict) else None
    fmt = audio.get("format") if isinstance(audio, dict) else None
    if not isinstance(data, str) or not data or not isinstance(fmt, str) or not fmt:
        raise BadRequest(f"{param} needs base64 data and a format (wav, mp3, ...).", param)
    return {"inlineData": {"mimeType": f"audio/{fmt.lower()}", "data": data}}


async def _file_part(file: Any, settings: Settings, param: str) -> dict[str, Any]:
    """A `file` part: base64 `file_data` (a data URL, or bare base64 typed by its
    filename, PDF by default), or a `file_id` that is a Gemini Files API name or URI."""
    if not isinstance(file, dict):
        raise BadRequest(f"{param} must be an object with file_data or file_id.", param)
    data = file.get("file_data")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            return await media.url_part(data, settings, f"{param}.file_data")
        filename = file.get("filename")
        mime = (mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None) or "application/pdf"
        return {"inlineData": {"mimeType": mime, "data": data}}
    file_id = file.get("file_id")
    if isinstance(file_id, str) and file_id.startswith("files/"):
        return {"fileData": {"fileUri": f"https://generativelanguage.googleapis.com/v1beta/{file_id}"}}
    if isinstance(file_id, str) and file_id.startswith("https://"):
        return await media.url_part(file_id, settings, f"{param}.file_id")
    raise BadRequest(
        f"{param} needs file_data (base64 or a data URL) or a file_id that is a Gemini file (files/...).", param
    )


def _assistant_parts(
    message: dict[str, Any], i: int, sign: bool
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str]]]:
    """The model turn's parts (text, then function calls) and its calls by id."""
    parts = _text_parts(message.get("content"), f"messages[{i}].content")
    calls: dict[str, tuple[int, str]] = {}
    tool_calls = message.get("tool_calls")
    if not tool_calls:
        return parts, calls
    if not isinstance(tool_calls, list):
        raise BadRequest(f"messages[{i}].tool_calls must be a list.", f"messages[{i}].tool_calls")
    signed = False
    first_call = len(parts)
    for j, call in enumerate(tool_calls):
        where = f"messages[{i}].tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{where}.function.name is required.", f"{where}.function.name")
        args = _arguments(function.get("arguments"), f"{where}.function.arguments")
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        extra = call.get("extra_content")
        google = extra.get("google") if isinstance(extra, dict) else None
        signature = google.get("thought_signature") if isinstance(google, dict) else None
        if isinstance(signature, str) and signature:
            part["thoughtSignature"] = signature
            signed = True
        parts.append(part)
        call_id = call.get("id")
        if isinstance(call_id, str):
            calls[call_id] = (j, name)
    if sign and not signed:
        parts[first_call]["thoughtSignature"] = SKIP_SIGNATURE
    return parts, calls


def _nested_json(text: str, param: str) -> Any:
    """JSON inside a string (a tool call's `arguments`, a tool result); ValueError when
    it is not JSON, a 400 naming `param` when it is JSON nested deeper than can be sent on."""
    try:
        return loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # nesting, NaN, 1e400: JSON that cannot be sent on as it is
        raise BadRequest(f"{param} holds JSON that is nested too deeply or has numbers out of range.", param) from None


def _arguments(raw: Any, param: str) -> dict[str, Any]:
    """A tool call's `arguments` (a JSON string) as Gemini `args`. Text that is not a
    JSON object is forwarded as `{"arguments": raw}`, not refused: a model's own broken
    output must not break the conversation."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = _nested_json(raw, param)
        except ValueError:
            return {"arguments": raw}
        if isinstance(value, dict):
            return value
    return {"arguments": raw}


def _tool_result(content: Any, param: str) -> dict[str, Any]:
    """A tool message's content as a functionResponse `response` (always an object):
    a JSON object as it is, any other JSON value as `{"result": value}`, other text as
    `{"result": text}`."""
    if isinstance(content, list):
        text = "".join(part["text"] for part in _text_parts(content, param))
    elif isinstance(content, str):
        text = content
    elif content is None:
        text = ""
    else:
        return content if isinstance(content, dict) else {"result": content}
    try:
        value = _nested_json(text, param)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


# Tools and configuration ---------------------------------------------------------------


def _tools(tools: Any) -> tuple[list[dict[str, Any]], bool]:
    """(Gemini tools, whether a function named googleSearch asked for Google Search)."""
    if not tools:
        return [], False
    if not isinstance(tools, list):
        raise BadRequest("tools must be a list.", "tools")
    declarations = []
    search = False
    budget = schema.Budget()  # one for all the tools: many schemas do not multiply it
    for j, tool in enumerate(tools):
        kind = tool.get("type", "function") if isinstance(tool, dict) else None
        function = tool.get("function") if kind == "function" else None
        if not isinstance(function, dict):
            raise BadRequest(f"tools[{j}] must be a function tool ({{\"type\": \"function\", \"function\": {{...}}}}).", f"tools[{j}]")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools[{j}].function.name is required.", f"tools[{j}].function.name")
        if name == SEARCH_TOOL_NAME:
            search = True
            continue
        declaration: dict[str, Any] = {"name": name}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = function.get("parameters")
        if isinstance(parameters, dict) and _has_parameters(parameters):
            declaration["parameters"] = schema.to_gemini_schema(parameters, f"tools[{j}].function.parameters", budget)
        declarations.append(declaration)
    return ([{"functionDeclarations": declarations}] if declarations else []), search


def _has_parameters(parameters: dict[str, Any]) -> bool:
    """False for an empty object schema, which Gemini refuses ("properties should be
    non-empty for OBJECT type"); a function without parameters is declared without."""
    return parameters.get("type", "object") != "object" or bool(parameters.get("properties")) or any(
        key in parameters for key in ("anyOf", "oneOf", "allOf", "$ref")
    )


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mode = TOOL_CHOICE.get(choice)
        if mode is None:
            raise BadRequest(f"tool_choice must be none, auto, required or a function, not {choice!r}.", "tool_choice")
        return {"functionCallingConfig": {"mode": mode}}
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest('tool_choice must name a function: {"type": "function", "function": {"name": ...}}.', "tool_choice")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _generation_config(body: dict[str, Any], model: str, google: dict[str, Any]) -> dict[str, Any]:
    config = _sampling(body)
    _response_format(body.get("response_format"), config)

    thinking = thinking_config(body.get("reasoning_effort"), model)
    given = google.get("thinking_config", google.get("thinkingConfig"))
    if isinstance(given, dict):
        thinking = dict(thinking or {})
        for key, value in given.items():
            thinking[THINKING_KEYS.get(key, key)] = value
        if "thinkingLevel" in thinking and "thinkingBudget" in thinking:
            # Gemini refuses both at once; the caller's explicit setting wins.
            drop = "thinkingBudget" if "thinkingLevel" in {THINKING_KEYS.get(k, k) for k in given} else "thinkingLevel"
            del thinking[drop]
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters, each checked (a 400 naming the field when invalid)."""
    values = {
        "temperature": params.number(body.get("temperature"), "temperature", 0, 2),
        "topP": params.number(body.get("top_p"), "top_p", 0, 1),
        "topK": params.integer(body.get("top_k"), "top_k", 1),
        "candidateCount": params.integer(body.get("n"), "n", 1, params.MAX_CANDIDATES),
        "seed": params.integer(body.get("seed"), "seed", -params.INT32 - 1),
        "presencePenalty": params.number(body.get("presence_penalty"), "presence_penalty", -2, 2),
        "frequencyPenalty": params.number(body.get("frequency_penalty"), "frequency_penalty", -2, 2),
        "maxOutputTokens": params.integer(body.get("max_completion_tokens"), "max_completion_tokens", 1)
        if body.get("max_completion_tokens") is not None
        else params.integer(body.get("max_tokens"), "max_tokens", 1),
        "stopSequences": params.stop_sequences(body.get("stop"), "stop"),
    }
    return {key: value for key, value in values.items() if value is not None}


def _response_format(fmt: Any, config: dict[str, Any]) -> None:
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
        return
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        given = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(given, dict):
            raise BadRequest("response_format.json_schema.schema must be a JSON schema object.", "response_format")
        converted = schema.to_gemini_schema(given, "response_format.json_schema.schema")
        # A bare enum is answered best as one of its values, as plain text.
        enum = "enum" in converted and converted.get("type", "string") == "string"
        config["responseMimeType"] = "text/x.enum" if enum else "application/json"
        config["responseSchema"] = converted
        return
    raise BadRequest(f"response_format.type must be text, json_object or json_schema, not {kind!r}.", "response_format")
