"""The Anthropic event stream for one Gemini stream: exactly the sequence Anthropic sends.

`message_start` (with the prompt's token count, so it waits for Gemini's first event),
then per block `content_block_start`, its deltas (`text_delta`, `thinking_delta` then
one `signature_delta`, or one `input_json_delta` with a tool's whole input) and
`content_block_stop`, then `message_delta` (stop_reason, usage) and `message_stop`.
`ping` events are the heartbeat while Gemini is silent (the SDKs skip them, also
before `message_start`). A failure after the commit is `event: error` with an
Anthropic error object.

Text and thinking deltas are the hot path: their framing is prebuilt bytes around one
JSON string.
"""

from __future__ import annotations

from typing import Any

from ..encoding import dumps
from ..errors import ProxyError, body_for
from ..sse import frame
from ..translate.answers import blocked_text
from .response import citations, message_id, part_text, search_blocks, stop_reason, tool_use, usage
from .signatures import thinking_signature

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT = b',"delta":{"type":"text_delta","text":'
_THINKING = b',"delta":{"type":"thinking_delta","thinking":'
_END = b"}}\n\n"


class MessageStream:
    """A streaming.Translator for the Messages API."""

    def __init__(self, name: str, single_tool: bool) -> None:
        self.name = name
        self.single_tool = single_tool
        self.started = False
        self.index = -1  # the current block
        self.kind: str | None = None  # "text" or "thinking" while such a block is open
        self.signature: str | None = None
        self.calls = 0
        self.finish: str | None = None
        self.refused = False
        self.searched = False
        self.meta: dict[str, Any] | None = None

    def start(self) -> bytes:
        return b""  # message_start waits for Gemini's first event (its prompt token count)

    def _message_start(self, data: dict[str, Any]) -> bytes:
        self.started = True
        opening = usage(data.get("usageMetadata"))
        opening["output_tokens"] = 0
        message: dict[str, Any] = {
            "id": message_id(data),
            "type": "message",
            "role": "assistant",
            "model": self.name,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": opening,
        }
        return frame({"type": "message_start", "message": message}, "message_start")

    def _close(self, out: list[bytes]) -> None:
        if self.kind == "thinking":
            delta = {"type": "signature_delta", "signature": thinking_signature(self.signature)}
            out.append(
                frame({"type": "content_block_delta", "index": self.index, "delta": delta}, "content_block_delta")
            )
        if self.kind is not None:
            out.append(frame({"type": "content_block_stop", "index": self.index}, "content_block_stop"))
        self.kind = None

    def _open(self, block: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        self.index += 1
        out.append(
            frame({"type": "content_block_start", "index": self.index, "content_block": block}, "content_block_start")
        )

    def _text(self, kind: str, text: str, out: list[bytes]) -> None:
        if self.kind != kind:
            block = (
                {"type": "thinking", "thinking": "", "signature": ""}
                if kind == "thinking"
                else {"type": "text", "text": ""}
            )
            self._open(block, out)
            self.kind = kind
            self.signature = None
        if text:
            head = _TEXT if kind == "text" else _THINKING
            out.append(_DELTA + str(self.index).encode() + head + dumps(text).encode() + _END)

    def _tool(self, part: dict[str, Any], out: list[bytes]) -> None:
        self.calls += 1
        if self.single_tool and self.calls > 1:
            return
        block = tool_use(part)
        arguments = dumps(block["input"])
        block["input"] = {}
        self._open(block, out)
        delta = {"type": "input_json_delta", "partial_json": arguments}
        out.append(frame({"type": "content_block_delta", "index": self.index, "delta": delta}, "content_block_delta"))
        out.append(frame({"type": "content_block_stop", "index": self.index}, "content_block_stop"))

    def _grounding(self, candidate: dict[str, Any], out: list[bytes]) -> None:
        """Citations on the open text block, then the search's own blocks (once)."""
        if self.kind == "text":
            for citation in citations(candidate):
                delta = {"type": "citations_delta", "citation": citation}
                out.append(
                    frame({"type": "content_block_delta", "index": self.index, "delta": delta}, "content_block_delta")
                )
        if self.searched:
            return
        for block in search_blocks(candidate):
            self.searched = True
            if block["type"] == "server_tool_use":
                query = dumps(block["input"])
                self._open({**block, "input": {}}, out)
                delta = {"type": "input_json_delta", "partial_json": query}
                out.append(
                    frame({"type": "content_block_delta", "index": self.index, "delta": delta}, "content_block_delta")
                )
            else:
                self._open(block, out)
            out.append(frame({"type": "content_block_stop", "index": self.index}, "content_block_stop"))

    def _part(self, part: dict[str, Any], out: list[bytes]) -> None:
        if "functionCall" in part:
            self._tool(part, out)
            return
        text, thought = part_text(part)
        if text is None:
            return
        if thought:
            if text or part.get("thoughtSignature") or self.kind == "thinking":
                self._text("thinking", text, out)
                self.signature = self.signature or part.get("thoughtSignature")
        elif text:
            self._text("text", text, out)

    def event(self, data: dict[str, Any]) -> bytes:
        out: list[bytes] = [] if self.started else [self._message_start(data)]
        candidates = data.get("candidates")
        if candidates:
            candidate = candidates[0]
            for part in (candidate.get("content") or {}).get("parts") or ():
                self._part(part, out)
            if "groundingMetadata" in candidate:
                self._grounding(candidate, out)
            self.finish = candidate.get("finishReason") or self.finish
        elif not self.refused and (blocked := blocked_text(data)):
            self._text("text", blocked, out)
            self.refused = True
        if meta := data.get("usageMetadata"):
            self.meta = meta
        return b"".join(out)

    def end(self) -> bytes:
        out: list[bytes] = [] if self.started else [self._message_start({})]
        self._close(out)
        reason = "refusal" if self.refused else stop_reason(self.finish, self.calls > 0)
        delta = {"stop_reason": reason, "stop_sequence": None}
        out.append(frame({"type": "message_delta", "delta": delta, "usage": usage(self.meta)}, "message_delta"))
        out.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
        return b"".join(out)

    def error(self, exc: ProxyError) -> bytes:
        return frame(body_for("anthropic", exc), "error")
