"""The HTTP protocol the shipped start commands run: uvicorn's httptools protocol with the
limits uvicorn itself lacks against slow or oversized clients.

uvicorn (0.3x-0.5x) has a keep-alive timeout (`--timeout-keep-alive`, idle time between
requests) and `--limit-concurrency`, but no timeout for reading a request's headers or
body and, with httptools, no limit on header size: a client that trickles a byte every
few seconds holds its connection (and its buffers) for as long as it likes. This class
adds, per connection:

- `HEADER_TIMEOUT` seconds (default 10) from the first byte of a request (or the
  connection's opening) to the end of its headers; past it the connection is closed;
- `MAX_HEADER_BYTES` (default 64 KiB) of request line and headers; past it a 431 and
  the connection is closed;
- `BODY_IDLE_TIMEOUT` seconds (default 60) without a byte of a body still expected;
  past it the connection is closed (the app sees a disconnect: nothing is sent upstream
  as if whole). An idle timeout, not a total one: a large upload that keeps moving is
  never cut.

It also tells the app at once of a client that goes away mid-request (disconnect.py),
which spares a watch task per request.

Settings come from the environment (they are the server's, read once at start). Run it
with `uvicorn handler.app:app --http handler.server:GuardedHttpTools` (infra/run.sh, the
Dockerfile and the README do). Imported only by uvicorn, never by the app or Lambda.
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .disconnect import KEY as DISCONNECT
from .disconnect import Disconnect


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds") from None
    return value if value > 0 else default


HEADER_TIMEOUT = _seconds("HEADER_TIMEOUT", 10.0)
BODY_IDLE_TIMEOUT = _seconds("BODY_IDLE_TIMEOUT", 60.0)
MAX_HEADER_BYTES = int(_seconds("MAX_HEADER_BYTES", 64 * 1024))
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 32\r\n\r\nRequest headers are too large.\r\n"
)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read limits (see module)."""

    _timer: asyncio.TimerHandle | None = None
    _in_headers = False
    _header_bytes = 0
    _body_pending = False

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
        if self._in_headers:
            self._header_bytes += len(data)
        elif self._body_pending:
            self._arm(BODY_IDLE_TIMEOUT)
        super().data_received(data)
        # Still in the headers after this chunk (a chunk may also hold the body's start):
        if self._in_headers and self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self._disarm()
            self.transport.write(TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions: dict[str, object] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
        extensions[DISCONNECT] = Disconnect()  # beside any that uvicorn sets
        if not self._in_headers:  # a later request on a kept-alive connection
            self._in_headers = True
            self._header_bytes = 0
            self._arm(HEADER_TIMEOUT)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self._body_pending = True
        self._arm(BODY_IDLE_TIMEOUT)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._disarm()
        super().on_message_complete()
