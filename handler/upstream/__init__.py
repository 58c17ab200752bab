"""The one boundary to the HTTP client (`connection_pool`, `connection`): only this package uses it.

Callers get `UpstreamResponse` (status, headers, read, iterate, close) and the project's
own exceptions (`UpstreamTimeout`, `UpstreamUnreachable`, `UpstreamBroken`), translated
here once. One pool of kept-alive connections per event loop is reused by every request
on it (opening a client per call is what makes the heavyweight Python proxies slow);
keying by loop lets it survive hosts that run each invocation in a new loop (Mangum on
a warm Lambda container, tests).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from ..config import Settings
from . import connection_pool

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a JSON answer that the proxy reads whole (translated routes, lists)


class UpstreamError(Exception):
    """The upstream could not be used; `message` is safe to show a client."""

    status = 502
    message = "The Gemini API could not be reached."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class UpstreamUnreachable(UpstreamError):
    pass


class UpstreamTLSError(UpstreamUnreachable):
    message = "The TLS certificate could not be verified."


class UpstreamTimeout(UpstreamError):
    status = 504
    message = "The Gemini API did not answer in time."


class UpstreamBroken(UpstreamError):
    message = "The Gemini API broke off its answer."


class UpstreamTooLarge(UpstreamError):
    message = "The Gemini API's answer is larger than this proxy reads."


class Mapped:
    """A context manager that raises the project's exception for the HTTP client's own
    (the first entry `isinstance` matches wins, so subclasses such as ssl.SSLError or
    TimeoutError come before OSError), as httpcore's `map_exceptions` does. A class,
    not a generator: it wraps every chunk of every stream."""

    __slots__ = ("mapping",)

    def __init__(
        self, mapping: dict[type[BaseException] | tuple[type[BaseException], ...], type[UpstreamError]]
    ) -> None:
        self.mapping = mapping

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        for given, ours in self.mapping.items():
            if isinstance(exc, given):
                raise ours() from None


CONNECTING = Mapped(
    {
        TimeoutError: UpstreamTimeout,
        ssl.SSLError: UpstreamTLSError,
        (OSError, ValueError, connection_pool.ProtocolError): UpstreamUnreachable,
    }
)
READING = Mapped(
    {
        OverflowError: UpstreamTooLarge,
        TimeoutError: UpstreamTimeout,
        (OSError, connection_pool.ProtocolError): UpstreamBroken,
    }
)


class UpstreamResponse:
    """An open upstream answer. Close it (or read it whole) when done."""

    __slots__ = ("_raw",)

    def __init__(self, raw: connection_pool.Response) -> None:
        self._raw = raw

    @property
    def status(self) -> int:
        return self._raw.status

    @property
    def raw_headers(self) -> Iterable[tuple[bytes, bytes]]:
        return self._raw.headers

    def header(self, name: str) -> str | None:
        return self._raw.header(name)

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters ("" when none was sent)."""
        return (self._raw.header("content-type") or "").split(";", 1)[0].strip().lower()

    @property
    def content_length(self) -> int | None:
        value = self._raw.header("content-length")
        return int(value) if value is not None and value.isdigit() else None

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (then released); UpstreamTooLarge past `limit` bytes."""
        try:
            with READING:
                return await self._raw.read(limit)
        finally:
            self._raw.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        while chunk := await self.next_chunk(None):
            yield chunk

    async def next_chunk(self, wait: float | None) -> bytes | None:
        """The next bytes (b"" at the end), or None when `wait` seconds passed without
        any (time for a heartbeat). Cancel-safe: nothing is lost."""
        with READING:
            return await self._raw.read_some(wait)

    def close(self) -> None:
        self._raw.close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of every https request: the system's CA bundle, loaded on the
    first https call instead of at start (parsing it is a sizeable part of a cold start).
    Loading it in a thread at start instead made the first call slower on a 2-core
    machine (figures: docs/speed.md, "Figures behind the code")."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(("http/1.1",))
    return context


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, connection_pool.Pool] = weakref.WeakKeyDictionary()


def pool() -> connection_pool.Pool:
    """This loop's connection pool."""
    loop = asyncio.get_running_loop()
    current = _pools.get(loop)
    if current is None:
        current = _pools[loop] = connection_pool.Pool()
    return current


async def close_pool() -> None:
    """Close this loop's kept connections (app shutdown)."""
    current = _pools.pop(asyncio.get_running_loop(), None)
    if current is not None:
        current.close()


async def request(
    settings: Settings,
    method: str,
    url: Any,
    headers: Mapping[str, str],
    body: bytes | AsyncIterable[bytes] | None = None,
    *,
    timeout: float | None = None,
    server_hostname: str | None = None,
) -> UpstreamResponse:
    """One HTTP request, no failover, redirects not followed. `timeout` bounds the whole
    call (a /verify check, a media fetch); by default the settings' connect and read
    timeouts apply. `server_hostname` is the TLS name to check when `url` names an
    address (the media fetch pins the address it vetted)."""
    url = str(url)
    with CONNECTING:
        raw = await pool().request(
            method,
            url,
            headers,
            body,
            connect_timeout=settings.connect_timeout if timeout is None else min(settings.connect_timeout, timeout),
            read_timeout=settings.read_timeout if timeout is None else timeout,
            timeout=timeout,
            context=tls_context() if url[:6].lower() == "https:" else None,
            server_hostname=server_hostname,
        )
    return UpstreamResponse(raw)
