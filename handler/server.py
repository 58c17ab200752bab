"""The HTTP protocol the shipped start commands run: uvicorn's httptools protocol with the
limits uvicorn itself lacks against slow or oversized clients.

uvicorn (0.3x-0.5x) has a keep-alive timeout (`--timeout-keep-alive`, idle time between
requests) and `--limit-concurrency`, but no timeout for reading a request's headers or
body and, with httptools, no limit on header size: a client that trickles a byte every
few seconds holds its connection (and its buffers) for as long as it likes. This class
adds, per connection:

- `HEADER_TIMEOUT` seconds (default 10) from the first byte of a request (or the
  connection's opening) to the end of its headers; past it the connection is closed;
- `MAX_HEADER_BYTES` (default 64 KiB) of request line and headers, however the bytes
  are split into reads (counted as they arrive, and again as the parser reports the
  target and each header, so a whole head in one read is held to it too); past it a
  431 and the connection is closed;
- a header timeout also after a stray line break between requests (the parser skips
  it without starting a request, and uvicorn has already cancelled the keep-alive
  timer: without this one `\r\n` would hold the connection for good);
- `MAX_PIPELINED` (default 16) requests read ahead of the one being answered; past it
  the connection is closed (uvicorn stops reading after the first queued request, but
  a single read of 256 KiB may hold thousands of tiny requests, each a queued cycle);
- `BODY_IDLE_TIMEOUT` seconds (default 60) without a byte of a body still expected;
  past it the connection is closed (the app sees a disconnect: nothing is sent upstream
  as if whole). An idle timeout, not a total one: a large upload that keeps moving is
  never cut. Bytes that are not body (a chunk extension or trailer that never ends)
  do not count as moving: past `MAX_HEADER_BYTES` of them in a row (within one read)
  the connection is closed, and trailers count toward `MAX_HEADER_BYTES` like headers.

The server's own refusals (431, uvicorn's 400 for bytes that are not HTTP and its 503
past `--limit-concurrency`) are in the error shape of the API the path belongs to
(errors.shape_for), like the app's.

It also tells the app at once of a client that goes away mid-request (disconnect.py),
which spares a watch task per request.

Settings come from the environment (they are the server's, read once at start). Run it
with `uvicorn handler.app:app --http handler.server:GuardedHttpTools` (infra/run.sh, the
Dockerfile and the README do). Imported only by uvicorn, never by the app or Lambda.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .disconnect import KEY as DISCONNECT
from .disconnect import Disconnect
from .encoding import json_bytes
from .errors import ProxyError, Unavailable, body_for, render, shape_for


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds") from None
    return value if value > 0 else default


HEADER_TIMEOUT = _seconds("HEADER_TIMEOUT", 10.0)
BODY_IDLE_TIMEOUT = _seconds("BODY_IDLE_TIMEOUT", 60.0)
MAX_HEADER_BYTES = int(_seconds("MAX_HEADER_BYTES", 64 * 1024))
MAX_PIPELINED = int(_seconds("MAX_PIPELINED", 16))
REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


class _TooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past MAX_HEADER_BYTES."""


class _TooManyPipelined(Exception):
    """Raised from a parser callback to stop reading ahead past MAX_PIPELINED requests."""


def refusal(status: int, message: str, url: bytes) -> bytes:
    """A whole HTTP answer refusing the request, in the error shape of its path's API."""
    path = url.split(b"?", 1)[0].decode("latin-1")
    body = json_bytes(body_for(shape_for(path), ProxyError(message, status=status)))
    return b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%b" % (
        status,
        REASONS.get(status, b"Error"),
        len(body),
        body,
    )


async def at_capacity(scope: Scope, receive: Receive, send: Send) -> None:
    """uvicorn's 503 past `--limit-concurrency`, in the path's error shape."""
    refusal = Unavailable("The server is at its connection limit. Try again shortly.", headers={"connection": "close"})
    await render(shape_for(scope["path"]), refusal)(scope, receive, send)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read limits (see module)."""

    _timer: asyncio.TimerHandle | None = None
    _in_headers = False
    _header_bytes = 0  # bytes read while in the head
    _body_pending = False
    _framing = 0  # bytes read in the body phase since the parser last gave body bytes
    _refused = False
    _stopped: Exception | None = None  # why a parser callback stopped the parse

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_headers = True  # the first request's headers are due now
        self._arm(HEADER_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cycle = self.cycle
        super().connection_lost(exc)
        if cycle is not None and cycle.disconnected:
            signal = cycle.scope.get("extensions", {}).get(DISCONNECT)
            if isinstance(signal, Disconnect):
                signal.lost()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._in_headers and not self._body_pending and (self.cycle is None or self.cycle.response_complete):
            # Between requests: whatever comes (a stray CRLF too) must finish a head in time.
            self._start_head()
        if self._in_headers:
            self._header_bytes += len(data)
        elif self._body_pending:
            self._framing += len(data)  # (on_body sets it back to 0)
        super().data_received(data)
        # Still in the headers after this chunk (a chunk may also hold the body's start):
        if self._in_headers and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(431, "Request headers are too large.")
        elif self._body_pending and self._framing > MAX_HEADER_BYTES:  # framing alone is not a body that moves
            self._refuse(400, "A chunk extension or trailer of the request body is too long.")  # (cut: see _refuse)
        elif self._body_pending and not self._refused:
            self._arm(BODY_IDLE_TIMEOUT)

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        chosen: Any = at_capacity if app is service_unavailable else app  # (uvicorn's own ASGI types)
        super()._start_asgi_task(cycle, chosen)

    def _start_head(self) -> None:
        self._in_headers = True
        self._header_bytes = 0
        self._arm(HEADER_TIMEOUT)

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` in the path's error shape and close (once). Once a request's
        head is done the app owns the answer: the connection is only closed (the app
        sees a disconnect, as with the body idle timeout)."""
        self._disarm()
        if not self._refused and not self.transport.is_closing():
            if not self._body_pending:
                self.transport.write(refusal(status, message, getattr(self, "url", b"") or b""))
            self.transport.close()
        self._refused = True

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes the parser refused; also where a callback's stop lands."""
        if isinstance(self._stopped, _TooLarge):
            self._refuse(431, "Request headers are too large.")
        elif isinstance(self._stopped, _TooManyPipelined):
            self._disarm()
            self._refused = True
            self.transport.close()  # a client that never reads its answers gets none
        else:
            self._refuse(400, msg)

    def on_message_begin(self) -> None:
        if len(self.pipeline) >= MAX_PIPELINED:
            self._stopped = _TooManyPipelined()
            raise self._stopped
        super().on_message_begin()
        extensions: dict[str, object] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
        extensions[DISCONNECT] = Disconnect()  # beside any that uvicorn sets
        if not self._in_headers:  # a later request on a kept-alive connection
            self._start_head()

    def on_body(self, body: bytes) -> None:
        self._framing = 0
        super().on_body(body)

    def on_headers_complete(self) -> None:
        # Past the limit in bytes read: count what the head held (a read may also carry
        # the body). A head that arrives in pieces is refused in data_received as it grows;
        # counted here only when needed, with no Python callback per header on every request.
        if self._header_bytes > MAX_HEADER_BYTES:
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > MAX_HEADER_BYTES:
                self._stopped = _TooLarge()
                raise self._stopped
        self._in_headers = False
        self._header_bytes = 0
        self._framing = 0
        self._body_pending = True
        self._arm(BODY_IDLE_TIMEOUT)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._disarm()
        super().on_message_complete()
