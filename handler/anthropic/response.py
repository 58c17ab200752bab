"""A Gemini generateContent answer -> an Anthropic Message (non-streamed), and the
pieces the stream shares: stop reasons, usage, citations, tool_use blocks.

- Thought parts become `thinking` blocks (consecutive ones merged), with a non-empty
  signature (see signatures.py); text parts `text` blocks; function calls `tool_use`
  blocks whose id carries Gemini 3's signature.
- `stop_reason`: STOP -> end_turn (tool_use when the answer calls tools), MAX_TOKENS ->
  max_tokens, a safety or recitation stop or a blocked prompt -> refusal. Gemini does
  not say which stop sequence ended an answer, so `stop_sequence` stays null.
- `usage`: input_tokens excludes what Gemini read from its cache (as Anthropic counts),
  which is `cache_read_input_tokens`; output_tokens counts the answer and the thoughts.
- Gemini's code execution (Anthropic's `code_execution_*` server tool runs as it) comes
  back as text: the code and its output as fenced blocks within the answer's text, which
  every client shows (Anthropic's code-execution result blocks differ between tool
  versions, and a client that does not know one would drop it).
- Google Search grounding becomes what Anthropic's web search answers with: a
  `server_tool_use` block (the queries) and a `web_search_tool_result` block (the
  sources), which Claude Code's WebSearch tool lists as links, and
  `web_search_result_location` citations on the text.
- `model` is the name the client sent (Claude Code compares it); the `x-proxy-model`
  header names the Gemini model that served.
"""

from __future__ import annotations

import os
from typing import Any

from ..encoding import dumps
from ..translate.answers import SAFETY_STOPS, blocked_text, tokens
from .signatures import thinking_signature, tool_use_id

STOP_REASONS = {"STOP": "end_turn", "MAX_TOKENS": "max_tokens", **dict.fromkeys(SAFETY_STOPS, "refusal")}


def stop_reason(finish: str | None, called: bool) -> str:
    mapped = STOP_REASONS.get(finish or "STOP", "end_turn")
    return "tool_use" if called and mapped == "end_turn" else mapped


def usage(meta: dict[str, Any] | None) -> dict[str, int]:
    count = tokens(meta)
    return {
        "input_tokens": max(count.prompt - count.cached, 0),
        "output_tokens": count.answer,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": count.cached,
    }


def message_id(data: dict[str, Any] | None = None) -> str:
    given = (data or {}).get("responseId")
    return "msg_" + (given if isinstance(given, str) and given.isascii() and given else os.urandom(12).hex())


def tool_use(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    args = call.get("args")
    return {
        "type": "tool_use",
        "id": tool_use_id(part.get("thoughtSignature")),
        "name": call.get("name", ""),
        "input": args if isinstance(args, dict) else {},
    }


def image_text(part: dict[str, Any]) -> str:
    """An image Gemini made, as a markdown data-URI image (Messages has no image output)."""
    blob = part["inlineData"]
    return f"![image](data:{blob.get('mimeType', 'image/png')};base64,{blob.get('data', '')})"


def citations(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """Google Search grounding as Anthropic web search citations."""
    grounding = candidate.get("groundingMetadata") or {}
    chunks = grounding.get("groundingChunks") or []
    out = []
    for support in grounding.get("groundingSupports") or []:
        cited = (support.get("segment") or {}).get("text", "")
        for index in support.get("groundingChunkIndices") or []:
            web = (chunks[index] if isinstance(index, int) and 0 <= index < len(chunks) else {}).get("web") or {}
            if web.get("uri"):
                out.append(
                    {
                        "type": "web_search_result_location",
                        "url": web["uri"],
                        "title": web.get("title"),
                        "encrypted_index": "",
                        "cited_text": cited,
                    }
                )
    return out


def search_blocks(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """The server_tool_use / web_search_tool_result pair for Gemini's grounding (or none)."""
    grounding = candidate.get("groundingMetadata") or {}
    queries = [q for q in grounding.get("webSearchQueries") or [] if isinstance(q, str)]
    results = [
        {
            "type": "web_search_result",
            "url": web["uri"],
            "title": web.get("title") or web["uri"],
            "encrypted_content": "",
            "page_age": None,
        }
        for chunk in grounding.get("groundingChunks") or []
        if isinstance(web := (chunk or {}).get("web"), dict) and web.get("uri")
    ]
    if not queries and not results:
        return []
    tool_id = "srvtoolu_" + os.urandom(12).hex()
    return [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": " | ".join(queries)}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results},
    ]


def part_text(part: dict[str, Any]) -> tuple[str | None, bool]:
    """(the text a non-call part carries, whether it is a thought); an image Gemini made
    is markdown text, and so are code Gemini ran and its output; None for a part that
    carries nothing to show."""
    thought = bool(part.get("thought"))
    text = part.get("text")
    if text is None and not thought:
        if "inlineData" in part:
            text = image_text(part)
        elif isinstance(code := part.get("executableCode"), dict):
            text = fenced(
                str(code.get("code", "")), str(code.get("language", "")).lower().replace("language_unspecified", "")
            )
        elif isinstance(result := part.get("codeExecutionResult"), dict):
            text = fenced(str(result.get("output", "")), "output")
    return text, thought


def fenced(body: str, info: str) -> str:
    """A markdown code block, fenced longer than any backtick run inside it."""
    fence = "```"
    while fence in body:
        fence += "`"
    return f"\n{fence}{info}\n{body.rstrip()}\n{fence}\n"


def content_blocks(parts: list[dict[str, Any]], single_tool: bool) -> list[dict[str, Any]]:
    """Gemini parts -> Anthropic content blocks, consecutive thoughts and texts merged."""
    out: list[dict[str, Any]] = []
    signature: str | None = None
    calls = 0
    for part in parts:
        if "functionCall" in part:
            if not (single_tool and calls):
                out.append(tool_use(part))
            calls += 1
            continue
        text, thought = part_text(part)
        if text is None:
            continue
        kind = "thinking" if thought else "text"
        if not out or out[-1]["type"] != kind:
            if not text and not (thought and part.get("thoughtSignature")):
                continue
            out.append(
                {"type": "thinking", "thinking": "", "signature": ""} if thought else {"type": "text", "text": ""}
            )
            signature = None
        if thought:
            out[-1]["thinking"] += text
            signature = signature or part.get("thoughtSignature")
            out[-1]["signature"] = thinking_signature(signature)
        else:
            out[-1]["text"] += text
    return out


def message(data: dict[str, Any], name: str, single_tool: bool) -> bytes:
    """A whole Anthropic Message as JSON bytes."""
    candidates = data.get("candidates") or []
    candidate = candidates[0] if candidates else {}
    content = content_blocks((candidate.get("content") or {}).get("parts") or [], single_tool)
    reason = stop_reason(candidate.get("finishReason"), any(b["type"] == "tool_use" for b in content))
    if not candidates and (blocked := blocked_text(data)):
        content, reason = [{"type": "text", "text": blocked}], "refusal"
    found = citations(candidate)
    texts = [block for block in content if block["type"] == "text"]
    if found and texts:
        texts[-1]["citations"] = found
    content = search_blocks(candidate) + content
    return dumps(
        {
            "id": message_id(data),
            "type": "message",
            "role": "assistant",
            "model": name,
            "content": content,
            "stop_reason": reason,
            "stop_sequence": None,
            "usage": usage(data.get("usageMetadata")),
        }
    ).encode()
