"""A small HTTP/1.1 client on asyncio and httptools, with keep-alive connections pooled per loop.

Why not aiohttp (the client until December 2026): importing it took about 80 ms of a
cold start (a third of the first proxied call; see docs/speed.md), and its generality
(cookies, redirects, proxies, decompression, tracing, multipart) cost CPU on every
call, none of which a pass-through proxy wants. What is left is small: write a request
head, hand the answer to httptools (uvicorn's parser, already loaded by the server, so
the parsing of untrusted bytes is a well-kept C library's, not ours), and keep the
connection for the next call. Only `upstream.py` uses this module.

What it does not do, on purpose: follow redirects (the proxy follows none, and the
media fetch checks each hop itself), cookies, proxies from the environment,
decompression (bodies pass byte for byte), HTTP/2.

Errors are plain: `TimeoutError`, `OSError` (and `ssl.SSLError`) from the socket,
`Disconnected` when the server closed before its answer ended, `ProtocolError` for an
answer that is not HTTP/1.1 or whose head is too large, `ValueError` for a request that
cannot be written (a header with a line break). `upstream.py` translates them once.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httptools

MAX_HEAD = 64 * 1024  # an answer's status line and headers, at most
HIGH_WATER = 256 * 1024  # body bytes held unread before the socket is paused
LOW_WATER = 64 * 1024
IDLE_SECONDS = 15.0  # a kept connection older than this is closed, not reused (servers drop them)
MAX_IDLE = 100  # kept connections per origin
LARGE_WRITE = 1024 * 1024  # larger bodies are written in pieces, waiting for the socket to drain

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target may hold as is; anything else (a space, a control character,
# non-ASCII) is percent-encoded, as browsers do. '%' stays: the target is already encoded.
_TARGET_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
_BAD_IN_HEADER = ("\r", "\n", "\0")


class ProtocolError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


class Disconnected(ConnectionError):
    """The server closed the connection before its answer ended."""


Origin = tuple[str, str, int, str | None]  # scheme, host, port, TLS server name


class _Connection(asyncio.Protocol):
    """One connection and the answer being read on it (one request at a time)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._reset(head_only=False)

    def _reset(self, head_only: bool) -> None:
        """Ready for the next answer."""
        self.head_only = head_only  # a HEAD request: the answer has no body whatever it says
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
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
        self.drained: asyncio.Future[None] | None = None
        self.last_read = self.loop.time()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        self.got_bytes = True
        if self.complete or self.error is not None:  # bytes nobody asked for: not reusable
            self._close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc.__context__ if isinstance(exc.__context__, ProtocolError) else ProtocolError(str(exc)))
            self._close()

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

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD:
            raise ProtocolError("The answer's head is too large.")
        lowered = name.lower()
        if lowered == b"content-length" or lowered == b"transfer-encoding":
            self.framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and friends: the real answer follows
            self.headers, self.head_size, self.framed = [], 0, False
            return
        self.status = status
        self.head_done = True
        if self.head_only or status in (204, 304):
            self.framed = True
            if self.head_only:  # the parser would wait for the body Content-Length announces
                self.complete = True
                self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
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

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def _wait(self, deadline: float | None) -> bool:
        """Until something happens on the connection; False when `deadline` came first.
        A plain timer, not `asyncio.timeout`: no task cancellation on the hot path."""
        waiter = self.waiter = self.loop.create_future()
        timer = None if deadline is None else self.loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    async def send(self, head: bytes, body: bytes | AsyncIterable[bytes] | None) -> None:
        assert self.transport is not None
        if body is None or isinstance(body, bytes):
            if body and len(body) <= LARGE_WRITE:
                self.transport.write(head + body)
                return
            self.transport.write(head)
            for start in range(0, len(body or b""), LARGE_WRITE):
                await self._drain()
                self.transport.write(body[start : start + LARGE_WRITE])  # type: ignore[index]
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


class Response:
    """An answer's head, and its body to read. `close()` (or reading to the end) gives
    the connection back to the pool when the server lets it stay open."""

    __slots__ = ("_connection", "_deadline", "_origin", "_pool", "_read_timeout", "headers", "status")

    def __init__(
        self, connection: _Connection, pool: Pool, origin: Origin, read_timeout: float | None, deadline: float | None
    ) -> None:
        self._connection: _Connection | None = connection
        self._pool = pool
        self._origin = origin
        self._read_timeout = read_timeout
        self._deadline = deadline
        self.status = connection.status
        self.headers = connection.headers

    def header(self, name: str) -> str | None:
        """The first value of a header, or None (names compare case-blind)."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    async def read_some(self, wait: float | None = None) -> bytes | None:
        """The next body bytes as they came (b"" at the end); None when `wait` seconds
        passed without any. TimeoutError when the read timeout or the deadline passed."""
        connection = self._connection
        if connection is None:
            return b""
        started = connection.loop.time()
        while True:
            if connection.chunks:
                data = connection.chunks.popleft()
                connection.buffered -= len(data)
                if connection.paused and connection.buffered <= LOW_WATER and connection.transport is not None:
                    connection.paused = False
                    connection.transport.resume_reading()
                return data
            if connection.complete:
                self._release()
                return b""
            if connection.error is not None:
                self.close()
                raise connection.error
            stop, timed_out = self._deadline, True
            if self._read_timeout is not None:
                idle_end = connection.last_read + self._read_timeout
                if stop is None or idle_end < stop:
                    stop = idle_end
            if wait is not None and (stop is None or started + wait < stop):
                stop, timed_out = started + wait, False
            if not await connection._wait(stop):
                if timed_out:
                    self.close()
                    raise TimeoutError()
                return None

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; `OverflowError` past `limit` bytes."""
        body = bytearray()
        while chunk := await self.read_some():
            body += chunk
            if limit is not None and len(body) > limit:
                self.close()
                raise OverflowError(limit)
        return bytes(body)

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.put(self._origin, connection)

    def close(self) -> None:
        """Done with the answer: the connection goes back to the pool if the answer was
        read to its end, else it is closed (unread bytes cannot be skipped cheaply)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if connection.complete and connection.error is None:
            self._pool.put(self._origin, connection)
        else:
            connection._close()


class Pool:
    """Kept-alive connections of one event loop, by origin; one request per connection."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self.closed = False

    def put(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self.closed or connection.closed or not connection.keep_alive or len(idle) >= MAX_IDLE:
            connection._close()
            return
        connection.idle_since = connection.loop.time()
        idle.append(connection)

    def _take(self, origin: Origin, now: float) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recently used: the likeliest still open
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                connection.reused = True
                return connection
            connection._close()
        return None

    async def _connect(
        self, origin: Origin, context: ssl.SSLContext | None, connect_timeout: float, deadline: float | None
    ) -> _Connection:
        scheme, host, port, server_hostname = origin
        loop = asyncio.get_running_loop()
        stop = loop.time() + connect_timeout
        if deadline is not None:
            stop = min(stop, deadline)
        options: dict[str, Any] = {}
        if scheme == "https":
            options = {"ssl": context, "server_hostname": server_hostname or host}
        async with asyncio.timeout_at(stop):
            _, protocol = await loop.create_connection(lambda: _Connection(loop), host, port, **options)
        return protocol

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | AsyncIterable[bytes] | None = None,
        *,
        connect_timeout: float,
        read_timeout: float | None,
        timeout: float | None = None,
        context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Response:
        """Send one request and wait for the answer's head. `timeout` bounds the whole
        call, body included; `connect_timeout` the connection (TLS included); `read_timeout`
        each wait for a byte.
        A kept connection that the server had closed meanwhile is replaced once, when
        the body can be sent again."""
        loop = asyncio.get_running_loop()
        scheme, host, port, target, host_header = _split(url)
        origin: Origin = (scheme, host, port, server_hostname if scheme == "https" else None)
        head = _head(method, target, host_header, headers, body)
        deadline = None if timeout is None else loop.time() + timeout
        replayable = body is None or isinstance(body, bytes)
        while True:
            connection = self._take(origin, loop.time())
            if connection is None:
                connection = await self._connect(origin, context, connect_timeout, deadline)
            connection._reset(head_only=method == "HEAD")
            try:
                await connection.send(head, body)
                await _head_of(connection, read_timeout, deadline)
            except Disconnected:
                connection._close()
                if connection.reused and not connection.got_bytes and replayable:
                    continue  # the server had dropped the idle connection: try a new one
                raise
            except BaseException:
                connection._close()
                raise
            return Response(connection, self, origin, read_timeout, deadline)

    def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection._close()
        self._idle.clear()


async def _head_of(connection: _Connection, read_timeout: float | None, deadline: float | None) -> None:
    """Until the answer's head has been read."""
    while not connection.head_done:
        if connection.error is not None:
            raise connection.error
        stop = deadline
        if read_timeout is not None:
            idle_end = connection.last_read + read_timeout
            stop = idle_end if stop is None else min(stop, idle_end)
        if not await connection._wait(stop):
            raise TimeoutError()


def _split(url: str) -> tuple[str, str, int, str, str]:
    """Scheme, host, port, request target and Host header of an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError("Only absolute http and https URLs can be requested.")
    port = parts.port or _DEFAULT_PORTS[scheme]
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not target.isascii() or not target.isprintable() or " " in target:
        target = quote(target, safe=_TARGET_SAFE)
    host_header = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        host_header += f":{port}"
    return scheme, host, port, target, host_header


def _head(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | AsyncIterable[bytes] | None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append(f"Host: {host}")
    for name, value in headers.items():
        if any(bad in name or bad in value for bad in _BAD_IN_HEADER) or ":" in name or not name:
            raise ValueError("A header name or value holds a line break.")
        lines.append(f"{name}: {value}")
    if isinstance(body, bytes):
        lines.append(f"Content-Length: {len(body)}")
    elif body is not None:
        lines.append("Transfer-Encoding: chunked")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")
