"""Native Gemini pass-through: same method, path, query and body; the answer byte for byte.

Only the credential changes: the client's `key` query parameter and credential headers
are removed, and the one chosen key goes in `x-goog-api-key` (or `Authorization:
Bearer` for Google's own OpenAI-compatible endpoint under `/v1beta/openai/`). Request
headers pass by a deny-list (`DROP_REQUEST_HEADERS`, and any header the request's
`Connection` names), so `Api-Revision`, `x-gemini-*`
and headers Google adds later reach it. Deliberate differences: `Accept-Encoding` is
not forwarded, so answers come uncompressed; an error body that quotes the key
(Gemini's 403 does) gets it masked; resource names carry the key's tag (affinity.py,
resources.py); a resumable upload's later steps go to Google without a key.

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

Hardening (issue 23): a keyless upload continuation is checked like any path (no dot
segment, no encoded slash, still under `/upload/` as sent) and its `key` parameter is
dropped however encoded; upstream headers named like the proxy's own (`x-proxy-*`) are
dropped, so a client only ever sees the proxy's; a relayed answer (a stream's in-stream
error too) has the key it was sent with masked wherever a piece of it quotes the key.

This is a plain ASGI app at the hot path of the proxy: no Request object, no router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from starlette.types import Message, Receive, Scope, Send

from . import upstream
from .affinity import binding as affinity
from .affinity import lists, resources
from .disconnect import ClientGone, DisconnectWatch, relay
from .errors import BadRequest, ProxyError, gemini_error, render
from .keys.credentials import Credentials, from_request, without_params
from .keys.failover import Outcome, note_outcome
from .keys.failover import send as send_upstream
from .keys.masking import mask_in
from .logs import logger, note
from .state import cooldown_of, settings_of
from .upstream import MAX_ANSWER_BYTES, UpstreamError, UpstreamResponse

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
# Not forwarded: the client's credentials (the proxy sends the key it chose) and cookies;
# hop-by-hop headers; what the servers in front of the proxy add (forwarding, CDN and
# load-balancer headers: they describe the hop to us, not the client's request); Host
# and Content-Length (the HTTP client sets them for the body it sends); Accept-Encoding
# (answers come uncompressed: the proxy reads some of them).
DROP_REQUEST_HEADERS = HOP_BY_HOP | {
    "host",
    "content-length",
    "expect",
    "accept-encoding",
    "x-goog-api-key",
    "authorization",
    "x-api-key",
    "cookie",
    "forwarded",
    "via",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
}
DROP_REQUEST_PREFIXES = ("x-forwarded-", "x-amzn-", "x-amz-cf-", "cloudfront-", "cf-", "x-vercel-")
# Set by the server in front of the client (uvicorn, Mangum): ours, not Gemini's.
DROP_RESPONSE_HEADERS = HOP_BY_HOP | {"server", "date", "set-cookie", "alt-svc"}
_DROP = frozenset(name.encode() for name in DROP_RESPONSE_HEADERS)  # raw headers are bytes
OWN_HEADER_PREFIX = b"x-proxy-"  # the proxy's own response headers: never an upstream's


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers as a lower-case dict (the last value wins on repeats, but the
    `Connection` lines are joined: every name on any of them is hop-by-hop)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if "connection" in headers:
        headers["connection"] = ",".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"connection")
    return headers


def forward_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request headers Google gets: not the dropped ones, nor any that the request's
    `Connection` header names (hop-by-hop by declaration, RFC 9110 7.6.1)."""
    named = {name.strip().lower() for name in headers["connection"].split(",")} if "connection" in headers else ()
    return {
        name: value
        for name, value in headers.items()
        if name not in DROP_REQUEST_HEADERS and name not in named and not name.startswith(DROP_REQUEST_PREFIXES)
    }


def upstream_query(query_string: bytes) -> str:
    """The client's query for the upstream URL, less its `key` parameter."""
    kept = without_params(query_string) if query_string else b""
    return ("?" + kept.decode("latin-1")) if kept else ""


def relayed_headers(response: UpstreamResponse) -> list[tuple[bytes, bytes]]:
    """The upstream's answer headers that the client gets: lower-cased, less the server's
    own and any that pose as the proxy's."""
    return [
        (name, value)
        for name, value in ((n.lower(), v) for n, v in response.raw_headers)
        if name not in _DROP and not name.startswith(OWN_HEADER_PREFIX)
    ]


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
                raise BadRequest(
                    "The path holds a '.' or '..' segment or an encoded slash; send the plain Gemini path."
                )
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
    path = scope["path"]
    if resources.is_continuation(path, scope["query_string"]):
        await _continue_upload(scope, receive, send, headers)
        return
    try:
        creds = await from_request(settings, headers, scope["query_string"])
        raw_path = upstream_path(scope)
        body = await read_body(receive, settings.replay_limit)
        if (wanted := lists.pages(scope["method"], path, creds, scope["query_string"])) is not None:
            await _send_list(scope, receive, send, wanted, creds)
            return
        bound = await affinity.bind(
            scope, creds, raw_path, body if isinstance(body, bytes) else None, _creating(scope, headers)
        )
    except ClientGone:
        note(scope, client_gone="body", status=ClientGone.status)
        return
    except ProxyError as exc:
        await render("gemini", exc)(scope, receive, send)
        return
    call = send_upstream(
        settings,
        cooldown_of(scope),
        scope["method"],
        bound.path + upstream_query(scope["query_string"]),
        forward_headers(headers),
        (bound.body if isinstance(body, bytes) else body) or None,
        bound.creds,
        bearer=path.startswith("/v1beta/openai/"),
        resources=bound.resources,
    )
    if not isinstance(body, bytes):  # a streamed upload: its reader owns `receive` until sent
        await _answer(scope, receive, send, await call, headers, bound.path, watched=False)
        return
    try:
        async with DisconnectWatch(scope, receive):  # the client leaving cancels the call or the answer at once
            await _answer(scope, receive, send, await call, headers, bound.path, watched=True)
    except ClientGone:
        note(scope, client_gone="waiting", status=ClientGone.status)


async def _answer(
    scope: Scope, receive: Receive, send: Send, outcome: Outcome, headers: dict[str, str], path: str, watched: bool
) -> None:
    """Send the client the upstream's answer: its status and headers (plus the proxy's),
    an error body as read, a success relayed as it comes (resource names tagged)."""
    extra = note_outcome(scope, outcome)
    response = outcome.response
    if response is None:
        await gemini_error(outcome.status, outcome.message, extra)(scope, receive, send)
        return
    raw_headers = [(k.encode(), v.encode()) for k, v in extra.items()]
    raw_headers += relayed_headers(response)
    tag = affinity.tag(outcome.key)
    if response.header("x-goog-upload-url"):
        raw_headers = _upload_url_to_us(scope, headers, raw_headers, tag)
    start: Message = {"type": "http.response.start", "status": outcome.status, "headers": raw_headers}
    if not outcome.ok:
        await _send_error(start, outcome, send)
        return
    length = response.content_length
    if length is not None and length <= SMALL_ANSWER and not resources.tags_answer(path):
        await _send_whole(scope, receive, send, start, response)
        return
    chunks = response.chunks()
    try:
        if resources.tags_answer(path):
            chunks = await _tagged(start, response, tag, path)
    except UpstreamError as exc:
        response.close()
        await gemini_error(exc.status, exc.message, extra)(scope, receive, send)
        return
    if not any(name == b"content-length" for name, _ in start["headers"]):  # (a masked key changes the length)
        chunks = _masked(chunks, outcome.key)
    if watched:
        await _pump(scope, send, start, response, chunks)
    else:
        await relay(scope, receive, lambda: _pump(scope, send, start, response, chunks))


SMALL_ANSWER = 64 * 1024  # a JSON answer this small is read whole and sent in one piece


async def _send_list(
    scope: Scope, receive: Receive, send: Send, wanted: dict[str, str | None], creds: Credentials
) -> None:
    """One list of a collection over all the request's keys (lists.py)."""
    answer = await lists.joined(scope, scope["path"], scope["query_string"], wanted, creds)
    if isinstance(answer, Outcome):
        answer = gemini_error(answer.status, answer.text(), note_outcome(scope, answer))
    await answer(scope, receive, send)


def _creating(scope: Scope, headers: dict[str, str]) -> bool:
    """A resumable upload's first step: a name in its body is the file it creates."""
    return scope["method"] == "POST" and headers.get("x-goog-upload-command", "").strip() == "start"


async def _send_whole(scope: Scope, receive: Receive, send: Send, start: Message, response: UpstreamResponse) -> None:
    """A small answer: read whole, then sent in one piece (one write fewer than relaying
    it); one that breaks off is a clean 502, as nothing was sent yet."""
    try:
        body = await response.read(SMALL_ANSWER)
    except UpstreamError as exc:
        note(scope, stream_error=exc.status)
        await gemini_error(exc.status, exc.message)(scope, receive, send)
        return
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _pump(
    scope: Scope, send: Send, start: Message, response: UpstreamResponse, chunks: AsyncIterator[bytes]
) -> None:
    """Relay the answer chunk by chunk. If it breaks off, the response ends there, with
    no clean end (the client can tell it from success), and the log says why."""
    try:
        await send(start)
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except UpstreamError as exc:
        note(scope, stream_error=exc.status)
        logger.warning("stream ended early", extra={"fields": {"error": type(exc).__name__}})
    finally:
        response.close()


async def _tagged(start: Message, response: UpstreamResponse, tag: str, path: str) -> AsyncIterator[bytes]:
    """An answer about resources with the key's tag in every name (see resources.py): an
    event stream event by event, a JSON answer whole (`start` gets its new length)."""
    start["headers"] = [(n, v) for n, v in start["headers"] if n != b"content-length"]
    if response.content_type == "text/event-stream":
        return resources.tag_events(response.chunks(), tag)
    body = resources.tag_answer(await response.read(MAX_ANSWER_BYTES), tag, "/interactions" in path)
    start["headers"].append((b"content-length", str(len(body)).encode()))
    return _once(body)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _masked(chunks: AsyncIterator[bytes], key: str) -> AsyncIterator[bytes]:
    """The relayed pieces with `key` masked where one quotes it (a stream's in-stream
    error may: "API key ... not valid"). One search per piece; a piece is an event or
    more as Gemini sent it, so a quoted key is not split between pieces in practice."""
    secret = key.encode()
    async for chunk in chunks:
        yield mask_in(chunk, (key,)) if secret and secret in chunk else chunk


async def _continue_upload(scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
    """A later step of a resumable upload goes to Google without a key, as Google's own
    SDKs send it: the upload_id in its URL authorises it, and it stays on the project
    that started the upload whatever key the client sends. The last step's answer names
    the file: it gets the tag the proxy put in the upload URL."""
    settings = settings_of(scope)
    query, tag = resources.continuation_query(without_params(scope["query_string"]))
    try:
        path = upstream_path(scope)
        if not path.startswith("/upload/"):
            raise BadRequest("An upload's later steps go to a path under /upload/.")
        body = await read_body(receive, settings.replay_limit)
    except ProxyError as exc:
        await render("gemini", exc)(scope, receive, send)
        return
    except ClientGone:
        note(scope, client_gone="body", status=ClientGone.status)
        return
    url = settings.base_url + path + query
    try:
        response = await upstream.request(settings, scope["method"], url, forward_headers(headers), body or None)
    except UpstreamError as exc:
        note(scope, upstream_status=exc.status)
        await gemini_error(exc.status, exc.message)(scope, receive, send)
        return
    note(scope, upstream_status=response.status)
    start: Message = {"type": "http.response.start", "status": response.status, "headers": relayed_headers(response)}
    chunks = response.chunks()
    try:
        if tag and response.status < 300 and response.content_type == "application/json":
            chunks = await _tagged(start, response, tag, scope["path"])
    except UpstreamError as exc:
        await gemini_error(exc.status, exc.message)(scope, receive, send)
        return
    await relay(scope, receive, lambda: _pump(scope, send, start, response, chunks))


def _upload_url_to_us(
    scope: Scope, headers: dict[str, str], raw_headers: list[tuple[bytes, bytes]], tag: str
) -> list[tuple[bytes, bytes]]:
    """Resumable uploads continue through the proxy, not straight to Google."""
    base = settings_of(scope).base_url.encode()
    own = _own_base(scope, headers).encode()
    return [(n, resources.upload_url(v, base, own, tag) if n == b"x-goog-upload-url" else v) for n, v in raw_headers]


async def _send_error(start: Message, outcome: Outcome, send: Send) -> None:
    """The upstream's error answer, as it was read (and any key in it masked)."""
    start["headers"] = [(n, v) for n, v in start["headers"] if n != b"content-length"]
    start["headers"].append((b"content-length", str(len(outcome.body)).encode()))
    await send(start)
    await send({"type": "http.response.body", "body": outcome.body})
