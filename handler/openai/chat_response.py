"""A Gemini generateContent response -> an OpenAI chat completion, whole or per stream chunk.

Thought parts (`thought: true`) become `reasoning_content` and never enter `content`.
Function calls become `tool_calls`, with Gemini 3's `thoughtSignature` carried as
`extra_content.google.thought_signature` (as Google's own compatibility layer does) so
that the client can send it back. `finish_reason` is always one of OpenAI's values.
Google Search sources (`groundingMetadata`) become `message.annotations` of type
`url_citation` (citations.py); streamed, one `delta.annotations` per choice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from ..encoding import dumps
from ..errors import ProxyError, body_for
from ..sse import DONE, frame
from ..translate.answers import SAFETY_STOPS, blocked_text, tokens
from .citations import url_citations

FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", **dict.fromkeys(SAFETY_STOPS, "content_filter")}


def finish_reason(reason: str | None, called: bool) -> str:
    """OpenAI's finish_reason for Gemini's; "tool_calls" when a normal stop made calls."""
    mapped = FINISH_REASONS.get(reason or "STOP", "stop")
    return "tool_calls" if called and mapped == "stop" else mapped


def usage(meta: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI usage from usageMetadata (counted as `answers.tokens` says)."""
    count = tokens(meta)
    return {
        "prompt_tokens": count.prompt,
        "completion_tokens": count.answer,
        "total_tokens": count.prompt + count.answer,
        "prompt_tokens_details": {"cached_tokens": count.cached},
        "completion_tokens_details": {"reasoning_tokens": count.thoughts},
    }


def completion_id(data: dict[str, Any]) -> str:
    return "chatcmpl-" + (data.get("responseId") or os.urandom(12).hex())


def _tool_call(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    out = {
        "id": call.get("id") or "call_" + os.urandom(12).hex(),
        "type": "function",
        "function": {"name": call.get("name", ""), "arguments": dumps(call.get("args") or {})},
    }
    signature = part.get("thoughtSignature")
    if signature:
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


def split_parts(
    parts: Iterable[dict[str, Any]], bases: dict[int, int] | None = None
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(answer pieces, thought pieces, tool calls). Images come back as markdown
    data-URI images in the answer. `bases`, when given, receives the UTF-8 byte offset
    in the answer where each answer text part starts (for grounding segments)."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    size = 0
    for i, part in enumerate(parts):
        text = part.get("text")
        if text is not None and bases is not None and not part.get("thought"):
            bases[i] = size
            size += len(text.encode())
        if text is not None:
            (thoughts if part.get("thought") else texts).append(text)
        elif "functionCall" in part:
            calls.append(_tool_call(part))
        elif "inlineData" in part and not part.get("thought"):
            blob = part["inlineData"]
            texts.append(f"![image](data:{blob.get('mimeType', 'image/png')};base64,{blob.get('data', '')})")
            size += len(texts[-1].encode())
    return texts, thoughts, calls


def completion(data: dict[str, Any], model: str) -> bytes:
    """A whole (non-streamed) chat.completion, as JSON bytes."""
    choices = []
    for position, candidate in enumerate(data.get("candidates") or ()):
        bases: dict[int, int] = {}
        texts, thoughts, calls = split_parts((candidate.get("content") or {}).get("parts") or [], bases)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
        if thoughts:
            message["reasoning_content"] = "".join(thoughts)
        if calls:
            message["tool_calls"] = calls
        if "groundingMetadata" in candidate:
            message["annotations"] = url_citations(candidate["groundingMetadata"], "".join(texts), bases)
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls)),
            }
        )
    if not choices:
        blocked = blocked_text(data)
        choices.append(
            {
                "index": 0,
                "message": {"role": "assistant", "content": blocked or ""},
                "logprobs": None,
                "finish_reason": "content_filter" if blocked else "stop",
            }
        )
    return dumps(
        {
            "id": completion_id(data),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data.get("modelVersion") or model,
            "choices": choices,
            "usage": usage(data.get("usageMetadata")),
        }
    ).encode()


class ChunkStream:
    """Turns each Gemini stream event into the chat.completion.chunk events OpenAI
    would send: a first chunk with the role, content / reasoning_content / tool_calls
    (each tool call whole, with its `index`), a chunk with the finish_reason, and at
    the end, only with include_usage, a usage chunk with `choices: []`, then [DONE].

    Search sources go in one `annotations` chunk per choice, just before its
    finish_reason: Gemini sends `groundingMetadata` with the last event, or earlier and
    then again as it grows, and the openai SDK's stream helper cannot merge a second
    `annotations` list (it has no `index`), so the latest metadata is kept until then.

    The id, created and model part of every chunk is serialised once.
    """

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.head = b""
        self.tail = b',"usage":null}\n\n' if include_usage else b"}\n\n"
        self.tools: dict[int, int] = {}  # choice index -> tool calls sent so far
        self.finished: set[int] = set()
        self.meta: dict[str, Any] | None = None
        self.answers: dict[int, list[str]] = {}  # choice index -> answer text sent so far
        self.grounding: dict[int, Any] = {}  # choice index -> latest groundingMetadata

    def _start(self, data: dict[str, Any]) -> None:
        self.head = (
            'data: {"id":'
            + dumps(completion_id(data))
            + ',"object":"chat.completion.chunk","created":'
            + str(int(time.time()))
            + ',"model":'
            + dumps(data.get("modelVersion") or self.model)
            + ',"choices":'
        ).encode()

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return self.head + dumps(choice).encode() + self.tail

    def _open(self, index: int, out: list[bytes]) -> None:
        if index not in self.tools:
            self.tools[index] = 0
            out.append(self._chunk(index, {"role": "assistant", "content": ""}))

    def _finish(self, index: int, reason: str, out: list[bytes]) -> None:
        """The choice's annotations (if it was grounded), then its finish_reason."""
        self.finished.add(index)
        self._annotate(index, out)
        out.append(self._chunk(index, {}, reason))

    def _annotate(self, index: int, out: list[bytes]) -> None:
        if index in self.grounding:
            text = "".join(self.answers.get(index, ()))
            out.append(self._chunk(index, {"annotations": url_citations(self.grounding.pop(index), text)}))

    def start(self) -> bytes:
        return b""

    def error(self, exc: ProxyError) -> bytes:
        return frame(body_for("openai", exc))

    def event(self, data: dict[str, Any]) -> bytes:
        """The SSE bytes for one upstream event (possibly empty)."""
        if not self.head:
            self._start(data)
        out: list[bytes] = []
        candidates = data.get("candidates")
        for position, candidate in enumerate(candidates or ()):
            index = candidate.get("index", position)
            self._open(index, out)
            texts, thoughts, calls = split_parts((candidate.get("content") or {}).get("parts") or [])
            if thoughts:
                out.append(self._chunk(index, {"reasoning_content": "".join(thoughts)}))
            if texts:
                out.append(self._chunk(index, {"content": "".join(texts)}))
                self.answers.setdefault(index, []).extend(texts)
            if "groundingMetadata" in candidate:
                self.grounding[index] = candidate["groundingMetadata"]
                if index in self.finished:  # metadata after the finish: send it now
                    self._annotate(index, out)
            if calls:
                sent = self.tools[index]
                for k, call in enumerate(calls):
                    call["index"] = sent + k
                self.tools[index] = sent + len(calls)
                out.append(self._chunk(index, {"tool_calls": calls}))
            reason = candidate.get("finishReason")
            if reason and index not in self.finished:
                self._finish(index, finish_reason(reason, self.tools[index] > 0), out)
        if not candidates and 0 not in self.finished:
            blocked = blocked_text(data)
            if blocked:
                self._open(0, out)
                out.append(self._chunk(0, {"content": blocked}))
                self.finished.add(0)
                out.append(self._chunk(0, {}, "content_filter"))
        meta = data.get("usageMetadata")
        if meta:
            self.meta = meta
        return b"".join(out)

    def end(self) -> bytes:
        """What follows the last upstream event: a finish_reason for any choice that had
        none, the usage chunk when asked for, and [DONE]."""
        if not self.head:
            self._start({})
        out: list[bytes] = []
        if not self.tools:
            self._open(0, out)
        for index, called in list(self.tools.items()):
            if index not in self.finished:
                self._finish(index, finish_reason("STOP", called > 0), out)
        if self.include_usage:
            out.append(self.head + b'[],"usage":' + dumps(usage(self.meta)).encode() + b"}\n\n")
        out.append(DONE)
        return b"".join(out)
