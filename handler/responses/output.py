"""The pieces of a Responses answer: ids, items, usage, status, annotations, the
`response` object. The stream translator (stream.py) assembles them, for streamed and
whole answers alike, so that both come out the same.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import ProxyError, body_for
from ..translate.answers import SAFETY_STOPS, tokens
from .functions import Tool, Tools
from .request import ResponsesCall
from .signatures import encrypted as wrap

INCOMPLETE = {"MAX_TOKENS": "max_output_tokens", **dict.fromkeys(SAFETY_STOPS, "content_filter")}
FAILED_CODES = {429: "rate_limit_exceeded", 400: "invalid_prompt"}


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def usage(meta: dict[str, Any] | None) -> dict[str, Any]:
    """Responses usage from usageMetadata (counted as `answers.tokens` says)."""
    count = tokens(meta)
    return {
        "input_tokens": count.prompt,
        "input_tokens_details": {"cached_tokens": count.cached},
        "output_tokens": count.answer,
        "output_tokens_details": {"reasoning_tokens": count.thoughts},
        "total_tokens": count.prompt + count.answer,
    }


def envelope(call: ResponsesCall, rid: str, created: int, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    """The `response` object, request fields echoed as OpenAI does."""
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": call.model,
        "output": output,
        "previous_response_id": None,
        **call.echo,
        "usage": None,
    }


def now() -> int:
    return int(time.time())


# Items ---------------------------------------------------------------------------------


def message_item(
    item_id: str, text: str, annotations: list[dict[str, Any]], status: str = "completed"
) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}]
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, summary: str, signature: str | None, encrypted: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}] if summary else [],
    }
    if encrypted:
        # Always a string when asked for (OpenAI's contract), also when the signature rode
        # on a function call's id: then it carries none, and comes back as nothing.
        item["encrypted_content"] = wrap(signature or "")
    return item


def call_item(tool: Tool, call_id: str, args: dict[str, Any], arguments: str, status: str) -> dict[str, Any]:
    """The output item for one Gemini function call, as the kind of tool the client declared."""
    if tool.kind == "custom":
        value = args.get("input")
        text = value if isinstance(value, str) else arguments
        item = {
            "id": new_id("ctc_"),
            "type": "custom_tool_call",
            "status": status,
            "call_id": call_id,
            "name": tool.name,
            "input": text,
        }
    elif tool.kind == "shell_call":
        commands = args.get("commands")
        shell_action = {
            "commands": [str(c) for c in commands] if isinstance(commands, list) else _command(commands)[2:],
            "timeout_ms": args.get("timeout_ms"),
            "max_output_length": None,
        }
        return {"id": new_id("sh_"), "type": "shell_call", "status": status, "call_id": call_id, "action": shell_action}
    elif tool.kind == "apply_patch":
        operation = {k: args[k] for k in ("type", "path", "diff") if isinstance(args.get(k), str)}
        return {
            "id": new_id("apc_"),
            "type": "apply_patch_call",
            "status": status,
            "call_id": call_id,
            "operation": operation,
        }
    elif tool.kind == "shell":
        action: dict[str, Any] = {
            "type": "exec",
            "command": _command(args.get("command")),
            "env": {},
            "timeout_ms": args.get("timeout_ms"),
            "user": None,
            "working_directory": args.get("workdir"),
        }
        return {
            "id": new_id("lsh_"),
            "type": "local_shell_call",
            "status": status,
            "call_id": call_id,
            "action": action,
        }
    else:
        item = {
            "id": new_id("fc_"),
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": tool.name,
            "arguments": arguments,
        }
    if tool.namespace:
        item["namespace"] = tool.namespace
    return item


def _command(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return ["bash", "-lc", value] if isinstance(value, str) else []


def tool_of(name: str, tools: Tools) -> Tool:
    """The declared tool behind a Gemini function name (a name the client never declared
    comes back as a plain function call)."""
    return tools.by_name.get(name) or Tool("function", name)


def citations(text: str, grounding: dict[str, Any] | None) -> list[dict[str, Any]]:
    """url_citation annotations from Google Search grounding. Gemini's segment indices
    count UTF-8 bytes; OpenAI's count characters."""
    if not grounding or not text:
        return []
    chunks = grounding.get("groundingChunks") or []
    encoded = text.encode()
    out = []
    for support in grounding.get("groundingSupports") or []:
        segment = support.get("segment") or {}
        end = segment.get("endIndex", 0)
        if not isinstance(end, int) or end > len(encoded):
            continue
        start = segment.get("startIndex", 0) or 0
        start_char = len(encoded[:start].decode(errors="ignore"))
        end_char = len(encoded[:end].decode(errors="ignore"))
        for index in support.get("groundingChunkIndices") or []:
            web = chunks[index].get("web") if isinstance(index, int) and 0 <= index < len(chunks) else None
            if isinstance(web, dict) and web.get("uri"):
                out.append(
                    {
                        "type": "url_citation",
                        "start_index": start_char,
                        "end_index": end_char,
                        "url": web["uri"],
                        "title": web.get("title") or web["uri"],
                    }
                )
    return out


def failure(exc: ProxyError) -> dict[str, Any]:
    """The `error` of a failed response, from the proxy's error in OpenAI's shape."""
    error = body_for("openai", exc)["error"]
    code = FAILED_CODES.get(exc.status, "server_error" if exc.status >= 500 else error["code"] or "invalid_prompt")
    return {"code": code, "message": error["message"]}
