"""Native Gemini pass-through: same method, path, query and body; the answer byte for byte.

Only the credential changes: the client's `key` query parameter and credential headers
are removed, and the one chosen key goes in `x-goog-api-key` (or `Authorization:
Bearer` for Google's own OpenAI-compatible endpoint under `/v1beta/openai/`). Two more
deliberate differences: `Accept-Encoding` is not forwarded, so answers come
uncompressed, and an error body that quotes the key (Gemini's 403 does) gets it masked.

This is a plain ASGI app at the hot path of the proxy: no Request object, no router.
"""

from __future__ import annotations

from typing import AsyncIterator

from starlette.types import Message, Receive, Scope, Send

from .calls import cooldown_of, note_outcome, settings_of
from .credentials import from_request
from .errors import ProxyError, gemini_error, render
from .failover import Outcome, send as send_upstream
from .streaming import relay

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
FORWARD_HEADERS = frozenset(
    {
        "content-type",
        "accept",
        "accept-language",
        "user-agent",
        "x-goog-api-client",
        "x-goog-user-project",
        "x-server-timeout",
    }
)
# Set by the server in front of the client (uvicorn, Mangum): ours, not Gemini's.
DROP_RESPONSE_HEADERS = HOP_BY_HOP | {"server", "date", "set-cookie", "alt-svc"}
_DROP = frozenset(name.encode() for name in DROP_RESPONSE_HEADERS)  # raw headers are bytes


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers as a lower-case dict (the last value wins on repeats)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def forward_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in headers.items()
        if name in FORWARD_HEADERS or name.startswith("x-goog-upload-")
    }


def upstream_query(query_string: bytes) -> str:
    """The client's query, byte for byte, less its `key` parameter."""
    if not query_string:
        return ""
    kept = [p for p in query_string.split(b"&") if p and p.split(b"=", 1)[0] != b"key"]
    return ("?" + b"&".join(kept).decode("latin-1")) if kept else ""


def _own_base(scope: Scope, headers: dict[str, str]) -> str:
    scheme = headers.get("x-forwarded-proto") or scope.get("scheme", "http")
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    return f"{scheme}://{host}"


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


async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
    settings = settings_of(scope)
    headers = header_map(scope)
    try:
        creds = await from_request(settings, headers, scope["query_string"])
    except ProxyError as exc:
        await render("gemini", exc)(scope, receive, send)
        return
    body = await read_body(receive, settings.replay_limit)
    path = scope["path"]
    outcome = await send_upstream(
        settings,
        cooldown_of(scope),
        scope["method"],
        path + upstream_query(scope["query_string"]),
        forward_headers(headers),
        body if body else None,
        creds,
        bearer=path.startswith("/v1beta/openai/"),
    )
    extra = note_outcome(scope, outcome)
    response = outcome.response
    if response is None:
        await gemini_error(outcome.status, outcome.message, extra)(scope, receive, send)
        return
    raw_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
    raw_headers += [(name, value) for name, value in ((n.lower(), v) for n, v in response.raw_headers) if name not in _DROP]
    if response.header("x-goog-upload-url"):
        raw_headers = _upload_url_to_us(scope, headers, raw_headers)
    start: Message = {"type": "http.response.start", "status": outcome.status, "headers": raw_headers}
    if not outcome.ok:
        await _send_error(start, outcome, send)
        return

    async def pump() -> None:
        try:
            await send(start)
            async for chunk in response.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            response.close()

    await relay(receive, pump)


def _upload_url_to_us(
    scope: Scope, headers: dict[str, str], raw_headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """Resumable uploads continue through the proxy, not straight to Google."""
    base = settings_of(scope).base_url.encode()
    own = _own_base(scope, headers).encode()
    return [
        (n, own + v[len(base) :] if n == b"x-goog-upload-url" and v.startswith(base) else v) for n, v in raw_headers
    ]


async def _send_error(start: Message, outcome: Outcome, send: Send) -> None:
    """The upstream's error answer, as it was read (and any key in it masked)."""
    start["headers"] = [(n, v) for n, v in start["headers"] if n != b"content-length"]
    start["headers"].append((b"content-length", str(len(outcome.body)).encode()))
    await send(start)
    await send({"type": "http.response.body", "body": outcome.body})

