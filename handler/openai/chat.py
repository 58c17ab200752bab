"""POST /chat/completions -> Gemini generateContent / streamGenerateContent.

The translation lives in chat_request (OpenAI -> Gemini) and chat_response (Gemini ->
OpenAI); this module calls Gemini and streams.

Streams: the proxy commits to a 200 event stream only once Gemini has answered 200, or
once HEARTBEAT_SECONDS pass with no answer (then it sends `: keep-alive` comments so
that idle timeouts in front of it do not cut long thinking). Until then failover and
real error statuses (429 with Retry-After, 400, ...) apply; after that, a failure
becomes a final `data: {"error": {...}}` event. Heartbeats continue whenever
HEARTBEAT_SECONDS pass without an upstream event. Each upstream event is converted and
sent as it arrives.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..lazy import aiohttp
from ..config import Settings
from ..encoding import json_bytes, sse_event
from ..errors import openai_error, openai_error_body
from ..logs import note
from ..proxy_io import relay
from ..upstream import Outcome, send as send_upstream
from .chat_request import GeminiCall, to_gemini
from .chat_response import ChunkStream, completion
from .common import (
    BadRequest,
    bad_request_response,
    call_json,
    outcome_message,
    proxy_headers,
    read_json,
    request_keys_or_error,
    upstream_error,
)

UPSTREAM_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
HEARTBEAT = b": keep-alive\n\n"
BROKEN = "The Gemini API broke off its answer."
UNEXPECTED = "The Gemini API sent an answer of an unexpected shape."
NOT_FOUND_CODE = "model_not_found"  # a 404 from generateContent means an unknown model
_timeout = getattr(asyncio, "timeout", None)  # Python 3.11+


async def create(request: Request) -> Any:
    keys = await request_keys_or_error(request)
    if isinstance(keys, Response):
        return keys
    settings: Settings = request.app.state.settings
    try:
        call = await to_gemini(await read_json(request), settings)
    except BadRequest as exc:
        return bad_request_response(exc)
    body = json_bytes(call.payload)
    model = quote(call.model, safe="")
    if call.stream:
        path = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
        return ChatStream(request, settings, call, path, body, keys)

    outcome, data = await call_json(settings, "POST", f"/v1beta/models/{model}:generateContent", body, keys)
    if not outcome.ok:
        return upstream_error(request, outcome, NOT_FOUND_CODE)
    headers = proxy_headers(request, outcome)
    try:
        answer = completion(data, call.model)
    except (AttributeError, TypeError, KeyError):
        return openai_error(502, UNEXPECTED, headers=headers)
    return Response(answer, headers=headers, media_type="application/json")


def _error_event(status: int, message: str) -> bytes:
    code = NOT_FOUND_CODE if status == 404 else None
    return sse_event(openai_error_body(status, message, code=code))


def _outcome_error(outcome: Outcome) -> bytes:
    return _error_event(outcome.status, outcome_message(outcome))


def _upstream_event_error(data: dict[str, Any]) -> bytes:
    """A Gemini error sent inside the stream, as an OpenAI error event."""
    error = data["error"] if isinstance(data["error"], dict) else {}
    status = error.get("code") if isinstance(error.get("code"), int) else 500
    return _error_event(status, str(error.get("message") or f"The Gemini API failed with {status}."))


async def _read(content: aiohttp.StreamReader, seconds: float) -> bytes | None:
    """The next bytes from the upstream (b"" at its end), or None when `seconds` passed
    without any (time for a heartbeat). The read is cancel-safe: nothing is lost."""
    if _timeout is None:
        try:
            return await asyncio.wait_for(content.readany(), seconds)
        except aiohttp.ServerTimeoutError:
            raise
        except asyncio.TimeoutError:
            return None
    timer = _timeout(seconds)
    try:
        async with timer:
            return await content.readany()
    except TimeoutError:
        if timer.expired():
            return None
        raise


class ChatStream:
    """The ASGI answer to a streamed chat completion (run under proxy_io.relay, so that
    the upstream call stops when the client goes away)."""

    def __init__(
        self, request: Request, settings: Settings, call: GeminiCall, path: str, body: bytes, keys: tuple[str, ...]
    ) -> None:
        self.request = request
        self.settings = settings
        self.call = call
        self.path = path
        self.body = body
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await relay(receive, functools.partial(self._pump, scope, receive, send))

    async def _pump(self, scope: Scope, receive: Receive, send: Send) -> None:
        beat = self.settings.heartbeat_seconds
        upstream = asyncio.ensure_future(
            send_upstream(self.settings, "POST", self.path, UPSTREAM_HEADERS, self.body, self.keys)
        )
        started = False
        try:
            while not (await asyncio.wait((upstream,), timeout=beat))[0]:
                if not started:
                    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                    started = True
                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
            outcome = upstream.result()
            if not outcome.ok and not started:
                await upstream_error(self.request, outcome, NOT_FOUND_CODE)(scope, receive, send)
                return
            headers = proxy_headers(self.request, outcome)
            if not outcome.ok:
                note(scope, stream_error=outcome.status)
                await send({"type": "http.response.body", "body": _outcome_error(outcome)})
                return
            if not started:
                extra = [(k.encode(), v.encode()) for k, v in headers.items()]
                await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + extra})
            await send({"type": "http.response.body", "body": await self._relay_events(outcome.response, send, scope)})
        finally:
            if not upstream.done():
                upstream.cancel()
            elif not upstream.cancelled() and upstream.exception() is None:
                response = upstream.result().response
                if response is not None:
                    response.close()

    async def _relay_events(self, response: aiohttp.ClientResponse, send: Send, scope: Scope) -> bytes:
        """Convert and send each upstream event as it arrives; return the last bytes
        to send (the closing chunks and [DONE], or an error event)."""
        beat = self.settings.heartbeat_seconds
        stream = ChunkStream(self.call.model, self.call.include_usage)
        pending = bytearray()
        content = response.content
        while True:
            try:
                chunk = await _read(content, beat)
            except aiohttp.ServerTimeoutError:
                note(scope, stream_error=504)
                return _error_event(504, "The Gemini API stopped sending its answer (read timeout).")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                note(scope, stream_error=502)
                return _error_event(502, BROKEN)
            if chunk is None:
                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
                continue
            if chunk:
                pending += chunk
                if b"\n" not in chunk:
                    continue
                end = pending.rfind(b"\n") + 1
                lines = pending[:end].split(b"\n")
                del pending[:end]
            else:
                lines = [pending]
            out = []
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                try:
                    data = json.loads(line[5:])
                    if "error" in data:  # Gemini reports a failure inside the stream
                        note(scope, stream_error="upstream")
                        out.append(_upstream_event_error(data))
                        return b"".join(out)
                    out.append(stream.event(data))
                except (ValueError, AttributeError, TypeError, KeyError):
                    note(scope, stream_error=502)
                    out.append(_error_event(502, UNEXPECTED))
                    return b"".join(out)
            if not chunk:
                out.append(stream.end())
                return b"".join(out)
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
