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
  so the client's stream simply keeps going (`hops`, translate.long_decode).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from starlette.types import Receive, Scope, Send

from ..disconnect import relay
from ..errors import ProxyError, Shape, UpstreamFailed, render
from ..keys.credentials import Credentials
from ..keys.failover import Outcome, failure
from ..keys.masking import mask_text
from ..logs import note
from ..sse import EventParser
from ..upstream import UpstreamError, UpstreamResponse

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
UNEXPECTED = "The Gemini API sent an answer of an unexpected shape."

if TYPE_CHECKING:
    from .long_decode import Hops

    # (the answer's hops, a call that fetches the next hop: (token, key) -> outcome)
    HopCalls = tuple[Hops, Callable[[str, str], Awaitable[Outcome]]]


class Translator(Protocol):
    """A client protocol's view of one Gemini stream."""

    def start(self) -> bytes:
        """What opens the client's stream (sent at the commit)."""

    def event(self, data: dict) -> bytes:
        """The client's events for one Gemini event (possibly none)."""

    def end(self) -> bytes:
        """What closes the client's stream after Gemini's last event."""

    def error(self, exc: ProxyError) -> bytes:
        """The final event for a failure after the commit."""


class TranslatedStream:
    """The ASGI answer to a streamed call: `send_upstream` with failover, then the
    translator's events. `on_outcome` notes the outcome and gives the proxy's headers."""

    def __init__(
        self,
        call: Callable[[], Awaitable[Outcome]],
        translator: Translator,
        shape: Shape,
        heartbeat: bytes,
        beat_seconds: float,
        on_outcome: Callable[[Outcome], dict[str, str]],
        creds: Credentials,
        hops: HopCalls | None = None,
    ) -> None:
        self.call = call
        self.translator = translator
        self.shape = shape
        self.heartbeat = heartbeat
        self.beat = beat_seconds
        self.on_outcome = on_outcome
        self.creds = creds
        self.hops = hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await relay(scope, receive, lambda: self._pump(scope, receive, send))

    async def _pump(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstream = asyncio.ensure_future(self.call())
        started = False
        try:
            while not (await asyncio.wait((upstream,), timeout=self.beat))[0]:
                if not started:
                    await self._commit(send, {})
                    started = True
                await send({"type": "http.response.body", "body": self.heartbeat, "more_body": True})
            outcome = upstream.result()
            headers = self.on_outcome(outcome)
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
            assert outcome.response is not None
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
        """The first hop's events, then each next hop's, until the answer ends."""
        hops, fetch = self.hops if self.hops is not None else (None, None)
        first = response = outcome.response
        try:
            while True:
                assert response is not None
                last = await self._events(response, send, scope, hops)
                token = hops.next_token() if hops is not None and last is None else None
                if token is None or fetch is None:
                    return self.translator.end() if last is None else last
                response.close()
                response = None
                outcome = await self._beating(fetch(token, outcome.key), send)
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

    async def _events(self, response: UpstreamResponse, send: Send, scope: Scope, hops: Hops | None) -> bytes | None:
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
                    out.append(translator.event(hops.event(data) if hops is not None else data))
                except (ValueError, AttributeError, TypeError, KeyError, IndexError, RecursionError):
                    note(scope, stream_error=502)
                    out.append(translator.error(ProxyError(UNEXPECTED, status=502)))
                    return b"".join(out)
            if not chunk:
                if out:
                    await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
                return None
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})

    def _event_error(self, data: dict) -> ProxyError:
        """A Gemini error sent inside the stream, any key in it masked."""
        error = data["error"] if isinstance(data["error"], dict) else {}
        status = error.get("code") if isinstance(error.get("code"), int) and 400 <= error["code"] < 600 else 500
        message = str(error.get("message") or f"The Gemini API failed with {status}.")
        return ProxyError(mask_text(message, self.creds.keys), status=status)
