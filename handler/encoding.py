"""Compact JSON and SSE framing: one encoder for every body and event the proxy writes."""

from __future__ import annotations

import json
from typing import Any, Callable

dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
DONE = b"data: [DONE]\n\n"


def json_bytes(data: Any) -> bytes:
    return dumps(data).encode()


def sse_event(data: Any) -> bytes:
    """One `data:` event of server-sent events."""
    return b"data: " + dumps(data).encode() + b"\n\n"
