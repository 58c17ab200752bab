"""Anthropic messages of content blocks -> Gemini `contents` (and system parts).

- `system`-role messages in the middle of a conversation (Claude Code sends them) join
  the system instruction, in order.
- A user message's `tool_result` blocks become `functionResponse` parts in the order of
  the calls of the assistant message before it (decision 1), then the message's other
  blocks; images inside a tool result follow the function responses. A tool_result
  whose `tool_use_id` matches no tool_use of that assistant message is a 400.
- Tool results follow the shared conventions (translate/tools.py); `is_error` results
  are sent as `{"error": text}`.
- Assistant `thinking` blocks go back as thought parts with their signature,
  `tool_use` blocks as function calls with the signature their id carries (see
  signatures.py); `redacted_thinking` and the records of server-tool runs (web search,
  fetch, code execution, MCP: run upstream, their result already read by the model)
  are left out quietly: Gemini cannot read them, and each turn replays them.
- A block type (or a media source type) this proxy does not know is dropped and named
  in `x-proxy-dropped` (docs/forward-compatibility.md): never a 400 by itself. A
  block that is not an object with a type is still malformed input (400).
"""

from __future__ import annotations

import functools
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import media
from ..translate import tools as conventions
from ..translate.content import listed as content_list
from ..translate.content import text_of
from ..translate.dropped import Dropped
from ..translate.thinking import SKIP_SIGNATURE, needs_signatures
from .signatures import gemini_signature, signature_of

listed = functools.partial(content_list, noun="content blocks")

Part = dict[str, Any]
# Records of server-tool runs and hidden thinking: not sent, not reported (see above).
QUIET_ASSISTANT = frozenset(
    {
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
    }
)
FILES_PREFIX = "https://generativelanguage.googleapis.com/v1beta/"


async def contents(
    messages: list[Any], settings: Settings, model: str, dropped: Dropped
) -> tuple[list[Part], list[dict[str, Any]]]:
    """(system parts from system-role messages, Gemini contents); what is left out goes in `dropped`."""
    system: list[Part] = []
    out: list[dict[str, Any]] = []
    sign = needs_signatures(model)
    calls: dict[str, tuple[int, str]] = {}  # tool_use id -> (position, name) in the last assistant message
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise BadRequest(f"{where} must be an object.", where)
        role = message.get("role")
        content = message.get("content")
        if role == "user":
            parts = await _user_parts(content, settings, f"{where}.content", calls, dropped)
            calls = {}
            if parts:
                out.append({"role": "user", "parts": parts})
        elif role == "assistant":
            parts, calls = _assistant_parts(content, f"{where}.content", sign, dropped)
            if parts:
                out.append({"role": "model", "parts": parts})
        elif role == "system":
            system += text_parts(content, f"{where}.content", dropped)
        else:
            raise BadRequest(f"{where}.role must be user or assistant, not {role!r}.", f"{where}.role")
    return system, out


def text_parts(content: Any, param: str, dropped: Dropped) -> list[Part]:
    """Text-only content (system): a string or a list of text blocks (cache_control
    ignored); a block of another type is dropped."""
    if content is None:
        return []
    parts = []
    for j, block in enumerate(listed(content, param)):
        if (kind := _kind(block, f"{param}.{j}")) != "text":
            dropped.add(f"{param}.{j}", kind)
        elif text := text_of(block, f"{param}.{j}"):
            parts.append({"text": text})
    return parts


def _kind(block: Any, param: str) -> str:
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(kind, str):
        raise BadRequest(f"{param} must be a content block with a type.", param)
    return kind


async def _user_parts(
    content: Any, settings: Settings, param: str, calls: dict[str, tuple[int, str]], dropped: Dropped
) -> list[Part]:
    results: list[tuple[int, Part]] = []
    parts: list[Part] = []
    for j, block in enumerate(listed(content, param)):
        where = f"{param}.{j}"
        kind = _kind(block, where)
        if kind == "tool_result":
            position, result, extra = await _tool_result(block, settings, where, calls, dropped)
            results.append((position, result))
            parts += extra
        elif kind in ("text", "image", "document"):
            parts += await media_parts(block, kind, settings, where, dropped)
        else:
            dropped.add(where, kind)
    results.sort(key=lambda item: item[0])
    return [part for _, part in results] + parts


async def media_parts(block: dict[str, Any], kind: str, settings: Settings, param: str, dropped: Dropped) -> list[Part]:
    """A text, image or document block as Gemini parts (none when its source type is new)."""
    if kind == "text":
        text = text_of(block, param)
        return [{"text": text}] if text else []
    source = block.get("source")
    if not isinstance(source, dict):
        raise BadRequest(f"{param}.source must be an object.", f"{param}.source")
    where = f"{param}.source"
    kind_of_source = source.get("type")
    if kind_of_source == "base64":
        data, mime = source.get("data"), source.get("media_type")
        if not isinstance(mime, str) or not mime:
            raise BadRequest(f"{where}.media_type is required.", f"{where}.media_type")
        if not isinstance(data, str) or not data or not media.is_base64(data):
            raise BadRequest(f"{where}.data is not valid base64.", f"{where}.data")
        return [{"inlineData": {"mimeType": mime, "data": data}}]
    if kind_of_source == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise BadRequest(f"{where}.url must be a URL.", f"{where}.url")
        return [await media.url_part(url, settings, f"{where}.url")]
    if kind_of_source == "file":
        file_id = source.get("file_id")
        if isinstance(file_id, str) and file_id.startswith("files/"):
            return [{"fileData": {"fileUri": FILES_PREFIX + file_id}}]
        raise BadRequest(f"{where}.file_id must be a Gemini Files API name (files/...).", f"{where}.file_id")
    if kind == "document" and kind_of_source == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise BadRequest(f"{where}.data must be a string.", f"{where}.data")
        return [{"text": data}] if data else []
    if kind == "document" and kind_of_source == "content":
        out: list[Part] = []
        for k, inner in enumerate(listed(source.get("content"), f"{where}.content")):
            inner_kind = _kind(inner, f"{where}.content.{k}")
            if inner_kind not in ("text", "image"):
                dropped.add(f"{where}.content.{k}", inner_kind)
                continue
            out += await media_parts(inner, inner_kind, settings, f"{where}.content.{k}", dropped)
        return out
    if not isinstance(kind_of_source, str):
        raise BadRequest(f"{where}.type is required.", f"{where}.type")
    dropped.add(where, kind_of_source)
    return []


async def _tool_result(
    block: dict[str, Any], settings: Settings, param: str, calls: dict[str, tuple[int, str]], dropped: Dropped
) -> tuple[int, Part, list[Part]]:
    """(the call's position, the functionResponse part, image parts that follow it)."""
    tool_id = block.get("tool_use_id")
    if not isinstance(tool_id, str) or tool_id not in calls:
        raise BadRequest(
            f"{param}: tool_result for tool_use_id {tool_id!r} matches no tool_use block of the assistant message before it.",
            f"{param}.tool_use_id",
        )
    position, name = calls[tool_id]
    content = block.get("content")
    texts: list[str] = []
    extra: list[Part] = []
    if content is not None:
        for k, inner in enumerate(listed(content, f"{param}.content")):
            where = f"{param}.content.{k}"
            kind = _kind(inner, where)
            if kind == "text":
                texts.append(text_of(inner, where))
            elif kind in ("image", "document"):
                extra += await media_parts(inner, kind, settings, where, dropped)
            else:
                dropped.add(where, kind)
    text = "".join(texts)
    response = {"error": text} if block.get("is_error") is True else conventions.result_object(text, f"{param}.content")
    return position, {"functionResponse": {"name": name, "response": response}}, extra


def _assistant_parts(
    content: Any, param: str, sign: bool, dropped: Dropped
) -> tuple[list[Part], dict[str, tuple[int, str]]]:
    """The model turn's parts and its tool_use blocks by id."""
    parts: list[Part] = []
    calls: dict[str, tuple[int, str]] = {}
    first_call: Part | None = None
    for j, block in enumerate(listed(content, param)):
        where = f"{param}.{j}"
        kind = _kind(block, where)
        if kind == "text":
            if text := text_of(block, where):
                parts.append({"text": text})
        elif kind == "thinking":
            part = _thought(block, where)
            if part:
                parts.append(part)
        elif kind == "tool_use":
            name = block.get("name")
            tool_id = block.get("id")
            if not isinstance(name, str) or not name or not isinstance(tool_id, str) or not tool_id:
                raise BadRequest(f"{where} needs an id and a name.", where)
            part = {"functionCall": {"name": name, "args": conventions.arguments(block.get("input"), f"{where}.input")}}
            if signature := signature_of(tool_id):
                part["thoughtSignature"] = signature
            calls[tool_id] = (len(calls), name)
            first_call = first_call or part
            parts.append(part)
        elif kind not in QUIET_ASSISTANT:
            dropped.add(where, kind)
    if sign and first_call is not None and "thoughtSignature" not in first_call:
        first_call["thoughtSignature"] = SKIP_SIGNATURE
    return parts, calls


def _thought(block: dict[str, Any], param: str) -> Part | None:
    thinking = block.get("thinking")
    if not isinstance(thinking, str):
        raise BadRequest(f"{param}.thinking must be a string.", f"{param}.thinking")
    signature = gemini_signature(block.get("signature"))
    if not thinking and not signature:
        return None
    part: Part = {"text": thinking, "thought": True}
    if signature:
        part["thoughtSignature"] = signature
    return part
