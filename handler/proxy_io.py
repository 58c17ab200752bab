"""ASGI plumbing shared by the routes: reading the body, choosing keys, relaying a stream.

Kept at the ASGI level (not Starlette Request/StreamingResponse) because this is the
per-request hot path: fewer objects and tasks per call is most of the proxy's speed.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope

from . import keys as keyring
from .config import Settings
from .errors import retry_after_seconds
from .logs import logger, note
from .upstream import Outcome

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


def settings_of(scope: Scope) -> Settings:
    return scope["app"].state.settings


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers as a lower-case dict (the last value wins on repeats)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def query_map(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))


async def request_keys(scope: Scope, headers: dict[str, str]) -> tuple[str, ...]:
    """The keys this request may use (raises keys.AuthError)."""
    return await keyring.resolve(settings_of(scope), keyring.credentials(headers, query_map(scope)))


async def read_body(receive: Receive, limit: int) -> bytes | AsyncIterator[bytes]:
    """The whole body as bytes when it fits in `limit` (so failover can replay it);
    past that, an iterator over what was read and the rest, sent once as it comes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
        if size > limit:
            return _rest(chunks, receive)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _rest(head: list[bytes], receive: Receive) -> AsyncIterator[bytes]:
    for chunk in head:
        yield chunk
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def outcome_headers(outcome: Outcome) -> list[tuple[bytes, bytes]]:
    """The proxy's own response headers: which masked key served, after how many tries,
    and `Retry-After` (whole seconds) when a final 429 said when to retry."""
    headers = [
        (b"x-proxy-key", keyring.mask(outcome.key).encode()),
        (b"x-proxy-attempts", str(outcome.attempts).encode()),
    ]
    if outcome.status == 429 and outcome.retry_after:
        seconds = retry_after_seconds(outcome.retry_after)
        if seconds is not None:
            headers.append((b"retry-after", seconds.encode()))
    return headers


def note_outcome(scope: Scope, outcome: Outcome) -> None:
    note(scope, upstream_status=outcome.status, key=keyring.mask(outcome.key), attempts=outcome.attempts)
    if outcome.model:
        note(scope, model=outcome.model)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def relay(receive: Receive, pump: Callable[[], Awaitable[None]]) -> None:
    """Run `pump` (which sends the response) until it ends or the client goes away.

    uvicorn drops writes to a closed connection silently, so without this watch a
    stream whose client left would keep the upstream call open to its end.
    """
    task = asyncio.ensure_future(pump())
    watch = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait((task, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watch):
            if not pending.done():
                pending.cancel()
        await asyncio.gather(task, watch, return_exceptions=True)
    if task.done() and not task.cancelled() and task.exception() is not None:
        # The response has started, so the status cannot change: end the stream, log why.
        logger.warning("stream ended early", extra={"fields": {"error": type(task.exception()).__name__}})
