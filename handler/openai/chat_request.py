"""An OpenAI chat completions request -> a Gemini generateContent request.

The body is walked once and a new Gemini request is built from it; nothing of the
OpenAI body is copied wholesale. Bad input raises `BadRequest` (400, with `param`)
before anything goes upstream. Unknown top-level fields are ignored. Something merely
new (docs/forward-compatibility.md) is never a 400 by itself: a content part type,
tool type, `tool_choice` or `reasoning_effort` value this proxy cannot send is left out
and named in `x-proxy-dropped` (`messages[2].content[1]:video_url`, `tools[3]:custom`);
a part or tool that is not a typed object is still malformed (400).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import media, params
from ..translate.content import listed, text_of, text_parts
from ..translate.dropped import Dropped
from ..translate.models import resolve_virtual
from ..translate.thinking import budget_config, thinking_config
from ..translate.tools import DEFAULT_SAFETY
from . import chat_tools

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
    dropped: Dropped = field(default_factory=Dropped)  # x-proxy-dropped entries


def _google_extra(body: dict[str, Any]) -> dict[str, Any]:
    """`extra_body.google` as sent literally, or merged to the top level by the openai SDK."""
    extra = body.get("extra_body")
    google = extra.get("google") if isinstance(extra, dict) else None
    if not isinstance(google, dict):
        google = body.get("google")
    return google if isinstance(google, dict) else {}


async def to_gemini(body: dict[str, Any], settings: Settings) -> GeminiCall:
    """Translate a chat completions request body (already parsed JSON)."""
    model, virtual = resolve_virtual(body.get("model"), settings)
    search = "search" in virtual
    if "non-thinking" in virtual and body.get("reasoning_effort") is None:
        body = {**body, "reasoning_effort": "none"}
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages is required and must be a non-empty list of messages.", "messages")

    payload: dict[str, Any] = {}
    dropped = Dropped()
    system, contents = await _contents(messages, settings, model, dropped)
    if not contents and dropped:  # Gemini refuses a request with no contents: say why there are none
        raise BadRequest(f"messages has nothing Gemini can read: this proxy dropped {', '.join(dropped)}.", "messages")
    payload["contents"] = contents
    if system:
        payload["systemInstruction"] = {"parts": system}

    offered = chat_tools.declarations(body.get("tools"), dropped)
    tools, search_by_tool = offered.tools, offered.search
    tool_config, search_forced = chat_tools.tool_config(body.get("tool_choice"), offered, dropped)
    if tool_config and tools:  # Gemini takes a function calling mode only with functions
        payload["toolConfig"] = tool_config
    if search or search_by_tool or search_forced or body.get("web_search_options") is not None:
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
    if "image" in virtual:
        config["responseModalities"] = ["TEXT", "IMAGE"]
    if config:
        payload["generationConfig"] = config

    options = body.get("stream_options")
    stream = body.get("stream") is True
    include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    return GeminiCall(model=model, payload=payload, stream=stream, include_usage=include_usage, dropped=dropped)


# Messages ------------------------------------------------------------------------------


async def _contents(
    messages: list[Any], settings: Settings, model: str, dropped: Dropped
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents). Tool results are grouped into one user turn
    after the assistant message that made the calls, in the order of its calls."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    calls: dict[str, tuple[int, str]] = {}  # tool_call_id -> (position, name) of the last assistant turn
    results: list[chat_tools.Result] | None = None  # the tool results being grouped

    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object.", f"messages[{i}]")
        role = message.get("role")
        if role != "tool" and results is not None:
            contents.append(chat_tools.results_turn(results))
            results = None
        if role == "system" or role == "developer":
            system += _text_parts(message.get("content"), f"messages[{i}].content", dropped)
        elif role == "user":
            parts = await _user_parts(message.get("content"), settings, f"messages[{i}].content", dropped)
            if parts:
                contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            parts = _text_parts(message.get("content"), f"messages[{i}].content", dropped)
            calls = chat_tools.assistant_calls(message, i, parts, model)
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
            content = message.get("content")
            listed = (
                await _user_parts(content, settings, f"messages[{i}].content", dropped)
                if isinstance(content, list)
                else None
            )
            response, media = chat_tools.tool_result(name, content, listed, model, f"messages[{i}].content")
            if results is None:
                results = []
            results.append((position, response, media))
        else:
            raise BadRequest(
                f"messages[{i}] has an unknown role {role!r}; use system, developer, user, assistant or tool.",
                f"messages[{i}].role",
            )
    if results is not None:
        contents.append(chat_tools.results_turn(results))
    return system, contents


def _text_parts(content: Any, param: str, dropped: Dropped) -> list[dict[str, Any]]:
    """Text-only content (system, developer, assistant): None is no content; a part of
    another type (an image in a system message, a new type) is dropped and named."""
    return [] if content is None else text_parts(content, param, dropped=dropped)


async def _user_parts(content: Any, settings: Settings, param: str, dropped: Dropped) -> list[dict[str, Any]]:
    """A user (or tool) message's parts; a part of a type Gemini has no equivalent for
    (`video_url`, a new one) or a file it cannot reach (an OpenAI `file-...` id) is
    dropped and named."""
    parts = []
    for j, part in enumerate(listed(content, param)):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = text_of(part, where)
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
            file = await _file_part(part.get("file"), settings, f"{where}.file")
            if file is None:
                dropped.add(where, kind)
            else:
                parts.append(file)
        elif isinstance(kind, str) and kind:
            dropped.add(where, kind)
        else:
            raise BadRequest(f"{where} must be an object with a type (text, image_url, ...).", f"{where}.type")
    return parts


def _audio_part(audio: Any, param: str) -> dict[str, Any]:
    data = audio.get("data") if isinstance(audio, dict) else None
    fmt = audio.get("format") if isinstance(audio, dict) else None
    if not isinstance(data, str) or not data or not isinstance(fmt, str) or not fmt:
        raise BadRequest(f"{param} needs base64 data and a format (wav, mp3, ...).", param)
    return {"inlineData": {"mimeType": f"audio/{fmt.lower()}", "data": data}}


async def _file_part(file: Any, settings: Settings, param: str) -> dict[str, Any] | None:
    """A `file` part: base64 `file_data` (a data URL, or bare base64 typed by its
    filename, PDF by default), or a `file_id` that is a Gemini Files API name or URI.
    None for a `file_id` of another kind (OpenAI's `file-...`: stored at OpenAI, out
    of Gemini's reach), which the caller drops; no data and no id is malformed."""
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
    if isinstance(file_id, str) and file_id:
        return None
    raise BadRequest(
        f"{param} needs file_data (base64 or a data URL) or a file_id that is a Gemini file (files/...).", param
    )


def _generation_config(body: dict[str, Any], model: str, google: dict[str, Any]) -> dict[str, Any]:
    config = _sampling(body)
    _response_format(body.get("response_format"), config)

    thinking = _thinking(body, model)
    given = google.get("thinking_config", google.get("thinkingConfig"))
    if isinstance(given, dict):
        thinking = dict(thinking or {})
        for key, value in given.items():
            thinking[THINKING_KEYS.get(str(key), str(key))] = value
        if "thinkingLevel" in thinking and "thinkingBudget" in thinking:
            # Gemini refuses both at once; the caller's explicit setting wins.
            drop = "thinkingBudget" if "thinkingLevel" in {THINKING_KEYS.get(k, k) for k in given} else "thinkingLevel"
            del thinking[drop]
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking(body: dict[str, Any], model: str) -> dict[str, Any] | None:
    """`reasoning_effort`, or else the `reasoning` object routers send (OpenRouter's
    `{"effort"}`, `{"max_tokens"}`, `{"enabled"}`, `{"exclude"}`): a token budget
    wins over an effort; `enabled: false` is effort none; an object that asks for
    neither is dynamic thinking; `exclude: true` thinks without returning the thoughts."""
    effort = body.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if effort is not None or reasoning is None:
        return thinking_config(effort, model)
    if not isinstance(reasoning, dict):
        raise BadRequest('reasoning must be an object such as {"effort": "high"}.', "reasoning")
    budget = reasoning.get("max_tokens")
    if budget is not None:
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            raise BadRequest(
                "reasoning.max_tokens must be a whole number of tokens, 0 or more.", "reasoning.max_tokens"
            )
        config = budget_config(budget, model)
    elif reasoning.get("effort") is not None:
        config = thinking_config(reasoning["effort"], model, "reasoning.effort")
    elif reasoning.get("enabled") is False:
        config = thinking_config("none", model, "reasoning.enabled")
    else:
        config = budget_config(None, model)
    if config and reasoning.get("exclude") is True:
        config.pop("includeThoughts", None)
    return config or None


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
    spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    given = spec.get("schema") if isinstance(spec, dict) else None
    if kind == "json_schema":
        params.answer_format(kind, given, "response_format.json_schema", config)
    else:
        params.answer_format(kind, None, "response_format", config)
