"""The one boundary to the HTTP client (aiohttp): only this module knows it.

Callers get `UpstreamResponse` (status, headers, read, iterate, close) and the project's
own exceptions (`UpstreamTimeout`, `UpstreamUnreachable`, `UpstreamBroken`), translated
here once. One pooled client session is kept per event loop and reused by every request
on it (opening a client per call is what makes the heavyweight Python proxies slow);
keying by loop lets it survive hosts that run each invocation in a new loop (Mangum on
a warm Lambda container, tests).

aiohttp is imported lazily (see `lazy.py`): a cold start answers the readiness check
before paying for it. The annotations below name its types for mypy only.
"""

from __future__ import annotations

import asyncio
import functools
import io
import ssl
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .config import Settings
from .lazy import aiohttp

if TYPE_CHECKING:
    import aiohttp as aiohttp_types


LARGE_BODY = 1024 * 1024


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


class UpstreamResponse:
    """An open upstream answer. Close it (or read it whole) when done."""

    __slots__ = ("_raw",)

    def __init__(self, raw: aiohttp_types.ClientResponse) -> None:
        self._raw = raw

    @property
    def status(self) -> int:
        return self._raw.status

    @property
    def raw_headers(self) -> Iterable[tuple[bytes, bytes]]:
        return self._raw.raw_headers

    def header(self, name: str) -> str | None:
        return self._raw.headers.get(name)

    @property
    def content_type(self) -> str:
        return self._raw.content_type or ""

    @property
    def content_length(self) -> int | None:
        return self._raw.content_length

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (then released); UpstreamTooLarge past `limit` bytes."""
        try:
            known = self._raw.content_length
            if limit is None or (known is not None and known <= limit):
                return await self._raw.read()
            body = bytearray()
            async for chunk in self._raw.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise UpstreamTooLarge()
            return bytes(body)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout() from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamBroken() from None
        finally:
            self._raw.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        try:
            async for chunk in self._raw.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout() from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamBroken() from None

    async def next_chunk(self, wait: float) -> bytes | None:
        """The next bytes (b"" at the end), or None when `wait` seconds passed without
        any (time for a heartbeat). Cancel-safe: nothing is lost."""
        timer = asyncio.timeout(wait)
        try:
            async with timer:
                return await self._raw.content.readany()
        except TimeoutError:
            if timer.expired():
                return None
            raise UpstreamTimeout() from None
        except aiohttp.ServerTimeoutError:
            raise UpstreamTimeout() from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamBroken() from None

    def close(self) -> None:
        self._raw.close()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context of every https request: the system's CA bundle, loaded on the
    first https call instead of at start (see `lazy.without_ca_bundle`)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(("http/1.1",))
    return context


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def session(settings: Settings) -> aiohttp_types.ClientSession:
    loop = asyncio.get_running_loop()
    current = _sessions.get(loop)
    if current is None or current.closed:
        current = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
            ),
            # Bodies pass through byte for byte; the client decompresses what it asked for.
            auto_decompress=False,
            # Send only the headers the client sent, not aiohttp's own defaults.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        _sessions[loop] = current
    return current


async def close_sessions() -> None:
    """Close this loop's session (app shutdown)."""
    current = _sessions.pop(asyncio.get_running_loop(), None)
    if current is not None:
        await current.close()


async def request(
    settings: Settings,
    method: str,
    url: Any,
    headers: Mapping[str, str],
    body: bytes | Any | None = None,
    *,
    timeout: float | None = None,
    server_hostname: str | None = None,
) -> UpstreamResponse:
    """One HTTP request, no failover, redirects not followed. `timeout` bounds the whole
    call (a /verify check, a media fetch); by default the session's socket timeouts apply."""
    options: dict[str, Any] = {"allow_redirects": False}
    if timeout is not None:
        options["timeout"] = aiohttp.ClientTimeout(
            total=timeout, sock_connect=min(settings.connect_timeout, timeout), sock_read=timeout
        )
    if server_hostname is not None:
        options["server_hostname"] = server_hostname
    if str(url)[:6].lower() == "https:":
        options["ssl"] = tls_context()
    if isinstance(body, bytes) and len(body) > LARGE_BODY:
        # aiohttp writes a large bytes body in one go (and warns); a BytesIO goes in pieces.
        body = io.BytesIO(body)
    try:
        raw = await session(settings).request(method, url, headers=headers, data=body, **options)
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise UpstreamTimeout() from None
    except aiohttp.ClientSSLError:
        raise UpstreamTLSError() from None
    except (aiohttp.ClientError, OSError, ValueError):
        raise UpstreamUnreachable() from None
    return UpstreamResponse(raw)
