"""The stream component every translated stream uses (OpenAI chat, Responses, Messages).

What it does, so that no protocol does it again:
- commits to a 200 event stream only once Gemini answered 200, or once
  HEARTBEAT_SECONDS pass with no answer (decision 11). Until then failover and real
  error statuses (429 with Retry-After, 400, ...) apply, rendered in the protocol's shape;
- sends the protocol's heartbeat whenever HEARTBEAT_SECONDS pass without an upstream
  event (decision 12): idle timeouts in front of the proxy must not cut long thinking;
- parses Gemini's SSE incrementally and hands each event to the protocol's
  `Translator`, sending what it returns as soon as it returns it;
- ends with the translator's error event when Gemini fails after the commit (an error
  event inside the stream, a broken connection, an event of an unexpected shape), with
  any key masked;
- stops the upstream call at once when the client goes away (`relay`);
- continues a long-decode answer (Gemini 4's CONTINUATION) with the next hop's events,
  so the client's stream simply keeps going (translate.long_decode).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import Receive, Scope, Send

from ..disconnect import relay
from ..errors import ProxyError, Shape, UpstreamFailed, render
from ..keys.failover import Outcome, failure, note_outcome
from ..keys.masking import mask_text
from ..logs import note
from ..sse import EventParser
from ..state import settings_of
from ..upstream import UpstreamError, UpstreamResponse
from .long_decode import Hops

if TYPE_CHECKING:
    from .attempt import Attempt

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
UNEXPECTED = "The Gemini API sent an answer of an unexpected shape."


class Translator(Protocol):
    """A client protocol's view of one Gemini stream."""

    def start(self) -> bytes:
        """What opens the client's stream (sent at the commit)."""

    def event(self, data: dict[str, Any]) -> bytes:
        """The client's events for one Gemini event (possibly none)."""

    def end(self) -> bytes:
        """What closes the client's stream after Gemini's last event."""

    def error(self, exc: ProxyError) -> bytes:
        """The final event for a failure after the commit."""


class TranslatedStream:
    """The ASGI answer to a streamed call: the `attempt`'s first answer (failover, a
    refused field dropped, a family's next model: translate.attempt), then the
    translator's events, the next long-decode hop's after each CONTINUATION, so the
    client's stream simply keeps going. Everything it needs is given here or read from
    the scope (settings, cooldown, the access log): it calls back into no route module.
    What was dropped is named in `x-proxy-dropped`, also on a commit that heartbeats
    force before Gemini answers (read when the headers go out)."""

    def __init__(self, attempt: Attempt, translator: Translator, shape: Shape, heartbeat: bytes) -> None:
        self.attempt = attempt
        self.translator = translator
        self.shape = shape
        self.heartbeat = heartbeat
        self.beat = 0.0  # the settings' HEARTBEAT_SECONDS, read when the stream starts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await relay(scope, receive, lambda: self._pump(scope, receive, send))

    async def _pump(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.beat = settings_of(scope).heartbeat_seconds
        upstream = asyncio.ensure_future(self.attempt.first(True))
        started = False
        try:
            while not (await asyncio.wait((upstream,), timeout=self.beat))[0]:
                if not started:
                    await self._commit(send, self.attempt.headers())
                    started = True
                await send({"type": "http.response.body", "body": self.heartbeat, "more_body": True})
            outcome = upstream.result()
            headers = note_outcome(scope, outcome) | self.attempt.headers()
            wrong_shape = outcome.ok and "event-stream" not in outcome.response.content_type  # type: ignore[union-attr]
            if not outcome.ok or wrong_shape:
                # A 200 that is not an event stream would otherwise end as an empty success.
                exc = UpstreamFailed(UNEXPECTED, headers=headers) if wrong_shape else failure(outcome, headers)
                if not started:
                    await render(self.shape, exc)(scope, receive, send)
                    return
                note(scope, stream_error=exc.status)
                await send({"type": "http.response.body", "body": self.translator.error(exc)})
                return
            if not started:
                await self._commit(send, headers)
            await send({"type": "http.response.body", "body": await self._hops(outcome, send, scope)})
        finally:
            if not upstream.done():
                upstream.cancel()
            elif not upstream.cancelled() and upstream.exception() is None:
                response = upstream.result().response
                if response is not None:
                    response.close()

    async def _commit(self, send: Send, headers: dict[str, str]) -> None:
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + extra})
        opening = self.translator.start()
        if opening:
            await send({"type": "http.response.body", "body": opening, "more_body": True})

    async def _hops(self, outcome: Outcome, send: Send, scope: Scope) -> bytes:
        """The first hop's events, then each next hop's, until the answer ends; return
        the last bytes to send (the translator's end, or an error event)."""
        hops = Hops(self.attempt.call.payload)
        first = response = outcome.response
        try:
            while True:
                assert response is not None
                last = await self._events(response, send, scope, hops)
                token = hops.next_token() if last is None else None
                if token is None:
                    return self.translator.end() if last is None else last
                response.close()
                response = None
                outcome = await self._beating(self.attempt.hop(token, outcome.key, True), send)
                response = outcome.response
                if not outcome.ok or response is None or "event-stream" not in response.content_type:
                    exc = failure(outcome) if not outcome.ok else UpstreamFailed(UNEXPECTED)
                    note(scope, stream_error=exc.status)
                    return self.translator.error(exc)
        finally:
            if response is not None and response is not first:
                response.close()

    async def _beating(self, work: Awaitable[Outcome], send: Send) -> Outcome:
        """`work` (the next hop's call), with heartbeats while Gemini thinks before it."""
        task = asyncio.ensure_future(work)
        try:
            while not (await asyncio.wait((task,), timeout=self.beat))[0]:
                await send({"type": "http.response.body", "body": self.heartbeat, "more_body": True})
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def _events(self, response: UpstreamResponse, send: Send, scope: Scope, hops: Hops) -> bytes | None:
        """Translate and send each upstream event as it arrives; None at a clean end of
        the upstream stream, else the last bytes to send (an error event)."""
        parser = EventParser()
        translator = self.translator
        while True:
            try:
                chunk = await response.next_chunk(self.beat)
            except UpstreamError as exc:
                note(scope, stream_error=exc.status)
                return translator.error(ProxyError(exc.message, status=exc.status))
            if chunk is None:
                await send({"type": "http.response.body", "body": self.heartbeat, "more_body": True})
                continue
            out = []
            for payload in parser.feed(chunk) if chunk else parser.close():
                try:
                    data = json.loads(payload)
                    if "error" in data:  # Gemini reports a failure inside the stream
                        note(scope, stream_error="upstream")
                        out.append(translator.error(self._event_error(data)))
                        return b"".join(out)
                    out.append(translator.event(hops.event(data)))
                except (ValueError, AttributeError, TypeError, KeyError, IndexError, RecursionError):
                    note(scope, stream_error=502)
                    out.append(translator.error(ProxyError(UNEXPECTED, status=502)))
                    return b"".join(out)
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
            if not chunk:
                return None

    def _event_error(self, data: dict[str, Any]) -> ProxyError:
        """A Gemini error sent inside the stream, any key in it masked."""
        error = data["error"] if isinstance(data["error"], dict) else {}
        status = error.get("code") if isinstance(error.get("code"), int) and 400 <= error["code"] < 600 else 500
        message = str(error.get("message") or f"The Gemini API failed with {status}.")
        return ProxyError(mask_text(message, self.attempt.creds.keys), status=status)
