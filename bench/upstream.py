"""A minimal, fast fake Gemini upstream for the benchmark (a raw ASGI app, no framework),
so that the figures measure the proxy, not the fake.

`POST ...:generateContent` answers a fixed GenerateContentResponse;
`POST ...:streamGenerateContent?alt=sse` sends `BENCH_EVENTS` events `BENCH_GAP_MS`
apart, each text stamped with the sender's monotonic clock (CLOCK_MONOTONIC is shared by
all processes on a Linux machine, so the client can compute each event's delay).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

EVENTS = int(os.environ.get("BENCH_EVENTS", "20"))
GAP = float(os.environ.get("BENCH_GAP_MS", "10")) / 1000


def _response(text: str, finish: bool = True) -> dict:
    candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 12, "totalTokenCount": 17},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "bench",
    }


GENERATE = json.dumps(_response("The quick brown fox jumps over the lazy dog. " * 4), indent=2).encode()
JSON_HEADERS = [(b"content-type", b"application/json; charset=UTF-8"), (b"content-length", str(len(GENERATE)).encode())]
SSE_HEADERS = [(b"content-type", b"text/event-stream")]


async def request_read(scope, receive, send) -> bool:
    """The ASGI preamble of a bench upstream: the lifespan answered, a request's body read
    and dropped; True when there is a request to answer."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return False
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    return True


async def app(scope, receive, send) -> None:
    if not await request_read(scope, receive, send):
        return
    if b"streamGenerateContent" not in scope["path"].encode():
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": GENERATE})
        return
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    for i in range(EVENTS):
        if i:
            await asyncio.sleep(GAP)
        # The send time rides in the text, so it survives the OpenAI translation too.
        event = _response(f"t={time.monotonic():.6f};", finish=i == EVENTS - 1)
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + json.dumps(event).encode() + b"\r\n\r\n",
                "more_body": True,
            }
        )
    await send({"type": "http.response.body", "body": b""})
