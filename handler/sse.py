"""Server-sent events: incremental parsing of Gemini's stream, and framing of ours.

Gemini frames each event as `data: <one-line JSON>` followed by a blank line, with CRLF
line ends; chunks from the network split events anywhere. `EventParser` buffers the
partial line and yields each complete `data:` payload once.
"""

from __future__ import annotations

from typing import Any

from .encoding import dumps

DONE = b"data: [DONE]\n\n"
COMMENT_HEARTBEAT = b": keep-alive\n\n"


class EventParser:
    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The `data:` payloads completed by `chunk` (often none or one)."""
        if b"\n" not in chunk:
            self._pending += chunk
            return []
        pending = self._pending
        pending += chunk
        end = pending.rfind(b"\n") + 1
        lines = pending[:end].split(b"\n")
        del pending[:end]
        return [bytes(line[5:].strip()) for line in lines if line.startswith(b"data:")]

    def close(self) -> list[bytes]:
        """What is left when the stream ends (a last event without its blank line)."""
        line = bytes(self._pending)
        self._pending.clear()
        return [line[5:].strip()] if line.startswith(b"data:") else []


def frame(data: Any, event: str | None = None) -> bytes:
    """One event: `data: <compact JSON>`, with an `event:` line when named."""
    payload = b"data: " + dumps(data).encode() + b"\n\n"
    return b"event: " + event.encode() + b"\n" + payload if event else payload
