"""Native Gemini pass-through: same method, path, query and body; the answer byte for byte.

Only the credential changes: the client's `key` query parameter and credential headers
are removed, and the one chosen key goes in `x-goog-api-key` (or `Authorization:
Bearer` for Google's own OpenAI-compatible endpoint under `/v1beta/openai/`). Two more
deliberate differences: `Accept-Encoding` is not forwarded, so answers come
uncompressed, and an error body that quotes the key (Gemini's 403 does) gets it masked.

Hardening (issue 9): the upstream path is the client's raw path, still percent-encoded,
so `%3F`, `%23` or `%2F` in it stay data and never become a query, a fragment or a new
segment; a segment that decodes to `.`, `..` or holds a slash is refused (400), so no
upstream normaliser can walk it elsewhere. A `key` query parameter is removed however its
name is encoded (`?%6Bey=`). A body is sent only when it arrived whole: a client that
goes away mid-body gets nothing sent upstream, and one that goes away before Gemini
answers has the upstream call cancelled at once. The resumable-upload URL handed back
names this proxy as `PUBLIC_BASE_URL` says, or as trusted forwarded headers say
(`TRUST_FORWARDED_HEADERS`), else the address the request arrived on; never a client's
own `Host` / `X-Forwarded-Host` unless the operator trusts them.

This is a plain ASGI app at the hot path of the proxy: no Request object, no router.
"""

from __future__ import annotations

from typing import AsyncIterator
from urllib.parse import quote, unquote, unquote_to_bytes

from starlette.types import Message, Receive, Scope, Send

from .calls import cooldown_of, note_outcome, settings_of
from .credentials import from_request
from .errors import BadRequest, ProxyError, gemini_error, render
from .failover import Outcome, send as send_upstream
from .logs import note
from .streaming import ClientGone, relay, until_disconnect
from .upstream import UpstreamError

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


def _is_key(name: bytes) -> bool:
    """Whether a raw query name is `key`, percent- or plus-encoded as it may be."""
    return name == b"key" or (len(name) <= 16 and unquote_to_bytes(name.replace(b"+", b" ")) == b"key")


def upstream_query(query_string: bytes) -> str:
    """The client's query, byte for byte, less its `key` parameter (`?%6Bey=` too)."""
    if not query_string:
        return ""
    kept = [p for p in query_string.split(b"&") if p and not _is_key(p.split(b"=", 1)[0])]
    return ("?" + b"&".join(kept).decode("latin-1")) if kept else ""


def upstream_path(scope: Scope) -> str:
    """The path to call upstream: the client's raw (still encoded) path, refused when a
    segment decodes to `.` or `..` or holds a slash. Mangum may not set `raw_path`: the
    decoded path is then encoded again (`?` and `#` as `%3F`, `%23`)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"], safe="/:@!$&'()*+,;=~")
    if "%" in path or "/." in path or "\\" in path:
        for segment in path.split("/"):
            text = unquote(segment)
            if text in (".", "..") or "/" in text or "\\" in text:
                raise BadRequest("The path holds a '.' or '..' segment or an encoded slash; send the plain Gemini path.")
    return path


def _own_base(scope: Scope, headers: dict[str, str]) -> str:
    """This proxy's base URL for the client: PUBLIC_BASE_URL, else the forwarded headers
    when the operator trusts them, else the address the request arrived on."""
    settings = settings_of(scope)
    if settings.public_base_url:
        return settings.public_base_url
    scheme = scope.get("scheme", "http")
    if settings.trust_forwarded_headers:
        scheme = headers.get("x-forwarded-proto") or scheme
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        return f"{scheme}://{host}"
    server = scope.get("server") or ("localhost", None)
    host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
    default = server[1] in (None, 80 if scheme == "http" else 443)
    return f"{scheme}://{host}" if default else f"{scheme}://{host}:{server[1]}"


async def read_body(receive: Receive, limit: int) -> bytes | AsyncIterator[bytes]:
    """The whole body as bytes when it fits in `limit` (so failover can replay it);
    past that, an iterator over what was read and the rest, sent once as it comes.
    A client that goes away mid-body raises ClientGone: nothing is sent as if whole
    (a streamed upload's iterator raises it too, which aborts the upstream request)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
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
            raise ClientGone()
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
    try:
        path_qs = upstream_path(scope) + upstream_query(scope["query_string"])
        body = await read_body(receive, settings.replay_limit)
    except ClientGone:
        note(scope, client_gone="body", status=ClientGone.status)
        return
    except ProxyError as exc:
        await render("gemini", exc)(scope, receive, send)
        return
    path = scope["path"]
    call = send_upstream(
        settings,
        cooldown_of(scope),
        scope["method"],
        path_qs,
        forward_headers(headers),
        body if body else None,
        creds,
        bearer=path.startswith("/v1beta/openai/"),
        model=_model_of(path),
    )
    try:
        outcome = await until_disconnect(receive, call, streamed_body=not isinstance(body, bytes))
    except ClientGone:
        note(scope, client_gone="waiting", status=ClientGone.status)
        return
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
        except UpstreamError as exc:  # the answer broke off: no clean end (see relay), and the log says why
            note(scope, stream_error=exc.status)
            raise
        finally:
            response.close()

    await relay(receive, pump)


def _model_of(path: str) -> str | None:
    """The model a `/models/{model}:{method}` path names (quotas are per model)."""
    _, found, rest = path.partition("/models/")
    return rest.split(":", 1)[0] if found and ":" in rest else None


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

