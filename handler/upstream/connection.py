"""One HTTP/1.1 client connection (an asyncio protocol) and the answer being read on it.

httptools parses the answer (the parsing of untrusted bytes is a well-kept C library's);
this module keeps what the parser reports: the head, the body's pieces until the reader
takes them (pausing the socket past `HIGH_WATER`, so a slow reader never makes memory
grow), whether the connection may be kept, and the first error. `http_client` pools
these connections and hands out their answers.

Limits on what a peer sends, checked as the bytes arrive (as aiohttp's `max_line_size`
and `max_field_size` do), not when a line ends: httptools keeps an unfinished header
name or value (trailers too) in memory until its line ends, so a line that never ends
would grow without limit. The head (status line, headers, any 1xx answers before it) is
at most `MAX_HEAD` bytes, counted per read; after it, `MAX_LINE` bytes may arrive
without the parser reporting anything (a chunk-size line or trailer that never ends),
and trailers are at most `MAX_HEAD` in all. Each check is exact to within one read
(the socket hands over at most 256 KiB at a time). A `101 Switching Protocols` (never
asked for) and anything else the parser refuses are a ProtocolError, never an exception
out of `data_received` (asyncio would log it as a fatal transport error).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterable

import httptools

MAX_HEAD = 64 * 1024  # an answer's status line and headers, at most
MAX_LINE = 8 * 1024  # bytes in a row without the parser reporting anything, after the head
HIGH_WATER = 256 * 1024  # body bytes held unread before the socket is paused
LOW_WATER = 64 * 1024
LARGE_WRITE = 1024 * 1024  # larger bodies are written in pieces, waiting for the socket to drain


class ProtocolError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


class Disconnected(ConnectionError):
    """The server closed the connection before its answer ended."""


class Connection(asyncio.Protocol):
    """One connection and the answer being read on it (one request at a time)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self.drained: asyncio.Future[None] | None = None
        self.paused = False
        self.reset(head_only=False)

    def reset(self, head_only: bool) -> None:
        """Ready for the next answer."""
        if self.paused and self.transport is not None:  # the last answer ended while paused
            self.transport.resume_reading()
        self.head_only = head_only  # a HEAD request: the answer has no body whatever it says
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0  # bytes of header lines (1xx answers included)
        self.head_read = 0  # bytes read before the head was done (1xx answers included)
        self.trailer_size = 0
        self.unreported = 0  # bytes read since the parser last reported something (after the head)
        self.reported = False
        self.framed = False  # Content-Length or chunked: the body's end is known
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.got_bytes = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.waiter: asyncio.Future[bool] | None = None
        self.last_read = self.loop.time()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        self.got_bytes = True
        if self.complete or self.error is not None:  # bytes nobody asked for: not reusable
            self.close()
            return
        in_head = not self.head_done
        self.reported = False
        try:
            self.parser.feed_data(data)
            if in_head and not self.head_done:
                self.head_read += len(data)
                if self.head_read > MAX_HEAD:
                    raise ProtocolError("The answer's head is too large.")
            elif not self.reported and not self.complete:
                self.unreported += len(data)
                if self.unreported > MAX_LINE:
                    raise ProtocolError("A line of the answer (a chunk size or a trailer) is too long.")
        except ProtocolError as exc:
            self._fail(exc)
            self.close()
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:  # never out of here (a 101 too)
            self._fail(exc.__context__ if isinstance(exc.__context__, ProtocolError) else ProtocolError(str(exc)))
            self.close()
        else:
            if self.reported:
                self.unreported = 0

    def eof_received(self) -> bool:
        self._ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended()
        if self.drained is not None and not self.drained.done():
            self.drained.set_exception(exc or Disconnected())

    def pause_writing(self) -> None:
        self.drained = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.complete:
            raise ProtocolError("The server sent a second answer to one request.")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:  # a trailer (after a chunked body): counted, not kept
            self.reported = True
            self.trailer_size += len(name) + len(value) + 4
            if self.trailer_size > MAX_HEAD:
                raise ProtocolError("The answer's trailers are too large.")
            return
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD:
            raise ProtocolError("The answer's head is too large.")
        lowered = name.lower()
        if lowered == b"content-length" or lowered == b"transfer-encoding":
            self.framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status == 101:
            raise ProtocolError("The server switched protocols, which was not asked for.")
        if status < 200:  # 100 Continue and friends: the real answer follows (their size still counts)
            self.headers, self.framed = [], False
            return
        self.status = status
        self.head_done = True
        self.reported = True
        if self.head_only or status in (204, 304):
            self.framed = True
            if self.head_only:  # the parser would wait for the body Content-Length announces
                self.complete = True
                self.keep_alive = False
        self._wake()

    def on_chunk_header(self) -> None:
        self.reported = True

    def on_chunk_complete(self) -> None:
        self.reported = True

    def on_body(self, body: bytes) -> None:
        self.reported = True
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done or self.complete:  # the end of a 1xx answer
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # the reading side

    def _ended(self) -> None:
        if self.complete or self.error is not None:
            return
        if self.head_done and not self.framed:  # the body ran until the connection closed
            self.complete, self.keep_alive = True, False
            self._wake()
        else:
            self._fail(Disconnected())

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def _wait(self, deadline: float | None) -> bool:
        """Until something happens on the connection; False when `deadline` came first.
        A plain timer, not `asyncio.timeout`: no task cancellation on the hot path."""
        waiter = self.waiter = self.loop.create_future()
        timer = None if deadline is None else self.loop.call_at(deadline, _expire, waiter)
        try:
            return bool(await waiter)
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    async def wait_head(self, read_timeout: float | None, deadline: float | None) -> None:
        """Until the answer's head has been read."""
        while not self.head_done:
            if self.error is not None:
                raise self.error
            if not await self._wait(_stop(self.last_read, read_timeout, deadline)):
                raise TimeoutError()

    async def read_some(self, read_timeout: float | None, deadline: float | None, wait: float | None) -> bytes | None:
        """The next body bytes as they came (b"" at the end); None when `wait` seconds
        passed without any. TimeoutError once `read_timeout` passed without a byte, or
        the deadline."""
        started = self.loop.time()
        while True:
            if self.chunks:
                data = self.chunks.popleft()
                self.buffered -= len(data)
                if self.paused and self.buffered <= LOW_WATER and self.transport is not None:
                    self.paused = False
                    self.last_read = self.loop.time()  # the read timeout counts from now, not from the pause
                    self.transport.resume_reading()
                return data
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            stop = _stop(self.last_read, read_timeout, deadline)
            if wait is not None and (stop is None or started + wait < stop):
                if not await self._wait(started + wait):
                    return None
            elif not await self._wait(stop):
                raise TimeoutError()

    async def send(self, head: bytes, body: bytes | AsyncIterable[bytes] | None) -> None:
        """Write the request: a bytes body at once (in pieces when large), any other
        chunked, waiting whenever the socket's buffer is full."""
        assert self.transport is not None
        if body is None or isinstance(body, bytes):
            body = body or b""
            if len(body) <= LARGE_WRITE:
                self.transport.write(head + body)
                return
            self.transport.write(head)
            for start in range(0, len(body), LARGE_WRITE):
                await self._drain()
                self.transport.write(body[start : start + LARGE_WRITE])
            return
        self.transport.write(head)
        async for piece in body:
            if piece:
                await self._drain()
                self.transport.write(b"%x\r\n%b\r\n" % (len(piece), piece))
        await self._drain()
        self.transport.write(b"0\r\n\r\n")

    async def _drain(self) -> None:
        if self.closed:
            raise self.error or Disconnected()
        if self.drained is not None:
            await self.drained


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _stop(last_read: float, read_timeout: float | None, deadline: float | None) -> float | None:
    """When a wait for bytes gives up: the read timeout after the last byte, or the deadline."""
    if read_timeout is None:
        return deadline
    idle_end = last_read + read_timeout
    return idle_end if deadline is None or idle_end < deadline else deadline
