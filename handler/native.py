"""Native Gemini pass-through: same method, path, query and body; the answer byte for byte.

Only the credential changes: the client's `key` query parameter and credential headers
are removed, and the one chosen key goes in `x-goog-api-key` (or `Authorization:
Bearer` for Google's own OpenAI-compatible endpoint under `/v1beta/openai/`). Two more
deliberate differences: `Accept-Encoding` is not forwarded, so answers come
uncompressed, and an error body that quotes the key (Gemini's 403 does) gets it masked.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from .errors import gemini_error
from .keys import AuthError
from .proxy_io import (
    HOP_BY_HOP,
    header_map,
    note_outcome,
    outcome_headers,
    read_body,
    relay,
    request_keys,
    settings_of,
)
from .upstream import send as send_upstream

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


async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
    settings = settings_of(scope)
    headers = header_map(scope)
    try:
        keys = await request_keys(scope, headers)
    except AuthError as exc:
        await gemini_error(exc.status, exc.message)(scope, receive, send)
        return
    body = await read_body(receive, settings.replay_limit)
    path = scope["path"]
    outcome = await send_upstream(
        settings,
        scope["method"],
        path + upstream_query(scope["query_string"]),
        forward_headers(headers),
        body if body else None,
        keys,
        bearer=path.startswith("/v1beta/openai/"),
    )
    note_outcome(scope, outcome)
    extra = outcome_headers(outcome)
    response = outcome.response
    if response is None:
        await gemini_error(outcome.status, outcome.message, dict((k.decode(), v.decode()) for k, v in extra))(
            scope, receive, send
        )
        return

    raw_headers = extra + [
        (name, value) for name, value in ((n.lower(), v) for n, v in response.raw_headers) if name not in _DROP
    ]
    if response.headers.get("x-goog-upload-url"):
        # Resumable uploads continue through the proxy, not straight to Google.
        own = _own_base(scope, headers).encode()
        raw_headers = [
            (n, own + v[len(settings.base_url) :] if n == b"x-goog-upload-url" and v.startswith(settings.base_url.encode()) else v)
            for n, v in raw_headers
        ]

    start = {"type": "http.response.start", "status": outcome.status, "headers": raw_headers}
    if not outcome.ok:
        # The error body was read (and any key in it masked): its length is ours to say.
        start["headers"] = [(n, v) for n, v in raw_headers if n != b"content-length"]
        start["headers"].append((b"content-length", str(len(outcome.body)).encode()))
        await send(start)
        await send({"type": "http.response.body", "body": outcome.body})
        return
    if response.content_length is not None and "event-stream" not in (response.content_type or ""):
        try:
            data = await response.read()
        except Exception:  # noqa: BLE001 - any failure here is the upstream's
            response.close()
            await gemini_error(502, "The Gemini API broke off its answer.")(scope, receive, send)
            return
        await send(start)
        await send({"type": "http.response.body", "body": data})
        return

    async def pump() -> None:
        try:
            await send(start)
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            response.close()

    await relay(receive, pump)
