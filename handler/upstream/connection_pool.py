"""A small HTTP/1.1 client on asyncio and httptools, with keep-alive connections pooled per loop.

Why not aiohttp (the client until December 2026): importing it took a third of the
first proxied call of a cold start (figures: docs/speed.md), and its generality
(cookies, redirects, proxies, decompression, tracing, multipart) cost CPU on every
call, none of which a pass-through proxy wants. What is left is small: write a request
head, hand the answer to httptools (uvicorn's parser, already loaded by the server, so
the parsing of untrusted bytes is a well-kept C library's, not ours), and keep the
connection for the next call. Only `handler.upstream` uses this module.

What it does not do, on purpose: follow redirects (the proxy follows none, and the
media fetch checks each hop itself), cookies, proxies from the environment,
decompression (bodies pass byte for byte), HTTP/2.

The connection itself (writing, reading, back-pressure) is `connection.Connection`.
Errors are plain: `TimeoutError`, `OSError` (and `ssl.SSLError`) from the socket,
`Disconnected` when the server closed before its answer ended, `ProtocolError` for an
answer that is not HTTP/1.1 or whose head is too large, `ValueError` for a request that
cannot be written (a header with a line break). `handler.upstream` translates them once.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from .connection import Connection, Disconnected, ProtocolError

__all__ = ["Disconnected", "Pool", "ProtocolError", "Response"]

IDLE_SECONDS = 15.0  # a kept connection older than this is closed, not reused (servers drop them)
MAX_IDLE = 100  # kept connections per origin
MAX_ORIGINS = 64  # origins with kept connections

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target may hold as is; anything else (a space, a control character,
# non-ASCII) is percent-encoded, as browsers do. '%' stays: the target is already encoded.
_TARGET_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
_BAD_IN_HEADER = ("\r", "\n", "\0")


Origin = tuple[str, str, int, str | None]  # scheme, host, port, TLS server name


class Response:
    """An answer's head, and its body to read. `close()` (or reading to the end) gives
    the connection back to the pool when the server lets it stay open."""

    __slots__ = ("_connection", "_deadline", "_origin", "_pool", "_read_timeout", "headers", "status")

    def __init__(
        self, connection: Connection, pool: Pool, origin: Origin, read_timeout: float | None, deadline: float | None
    ) -> None:
        self._connection: Connection | None = connection
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
        try:
            data = await connection.read_some(self._read_timeout, self._deadline, wait)
        except Exception:
            self.close()
            raise
        if data == b"":
            self.close()
        return data

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; `OverflowError` past `limit` bytes."""
        body = bytearray()
        while chunk := await self.read_some():
            body += chunk
            if limit is not None and len(body) > limit:
                self.close()
                raise OverflowError(limit)
        return bytes(body)

    def close(self) -> None:
        """Done with the answer: the connection goes back to the pool if the answer was
        read to its end, else it is closed (unread bytes cannot be skipped cheaply)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if connection.complete and connection.error is None:
            self._pool.put(self._origin, connection)
        else:
            connection.close()


class Pool:
    """Kept-alive connections of one event loop, by origin; one request per connection."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[Connection]] = {}
        self.closed = False

    def put(self, origin: Origin, connection: Connection) -> None:
        now = connection.loop.time()
        if origin not in self._idle and len(self._idle) >= MAX_ORIGINS:
            self._sweep(now)  # media fetches meet many origins: keep the table bounded
        idle = self._idle.get(origin)
        if idle is None and len(self._idle) < MAX_ORIGINS:
            idle = self._idle[origin] = []
        if idle is None or self.closed or connection.closed or not connection.keep_alive or len(idle) >= MAX_IDLE:
            connection.close()
            return
        connection.idle_since = now
        idle.append(connection)

    def _take(self, origin: Origin, now: float) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recently used: the likeliest still open
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                connection.reused = True
                return connection
            connection.close()
        self._idle.pop(origin, None)
        return None

    def _sweep(self, now: float) -> None:
        """Close the kept connections too old to reuse, and forget origins left with none."""
        for origin, idle in list(self._idle.items()):
            for connection in idle:
                if connection.closed or now - connection.idle_since >= IDLE_SECONDS:
                    connection.close()
            idle[:] = [connection for connection in idle if not connection.closed]
            if not idle:
                del self._idle[origin]

    async def _connect(
        self, origin: Origin, context: ssl.SSLContext | None, connect_timeout: float, deadline: float | None
    ) -> Connection:
        scheme, host, port, server_hostname = origin
        loop = asyncio.get_running_loop()
        stop = loop.time() + connect_timeout
        if deadline is not None:
            stop = min(stop, deadline)
        options: dict[str, Any] = {}
        if scheme == "https":
            options = {"ssl": context, "server_hostname": server_hostname or host}
        async with asyncio.timeout_at(stop):
            _, protocol = await loop.create_connection(lambda: Connection(loop), host, port, **options)
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
            connection.reset(head_only=method == "HEAD")
            try:
                await connection.send(head, body)
                await connection.wait_head(read_timeout, deadline)
            except Disconnected:
                connection.close()
                if connection.reused and not connection.got_bytes and replayable:
                    continue  # the server had dropped the idle connection: try a new one
                raise
            except BaseException:
                connection.close()
                raise
            return Response(connection, self, origin, read_timeout, deadline)

    def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


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
