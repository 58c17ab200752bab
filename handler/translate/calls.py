"""What every translated route (OpenAI, Responses, Messages) does around its translator:
credentials, the JSON body, one upstream call (whole or streamed), the proxy's headers.

Routes raise `errors.ProxyError`; the app renders it in the called API's shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..affinity import binding as affinity
from ..config import Settings
from ..disconnect import ClientGone, until_disconnect
from ..encoding import json_bytes, loads
from ..errors import BadRequest, ProxyError, Shape, TooLarge, UpstreamFailed
from ..keys.credentials import Credentials, from_request
from ..keys.failover import Outcome, note_outcome, send
from ..logs import note
from ..state import cooldown_of, settings_of
from ..upstream import MAX_ANSWER_BYTES, UpstreamError
from .bounds import check_items
from .streaming import TranslatedStream, Translator, failure

JSON_HEADERS = {"content-type": "application/json"}
UNEXPECTED = "The Gemini API sent an answer of an unexpected shape."


async def credentials_of(request: Request) -> Credentials:
    return await from_request(settings_of(request.scope), request.headers, request.scope["query_string"])


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (never read whole first)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ProxyError(
            f"Content-Encoding {encoding[:40]!r} is not supported; send the body uncompressed.", status=415
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The request body is larger than this proxy's limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The request body is larger than this proxy's limit of {limit} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:  # gone mid-body: nothing goes upstream, and it is no server error
        note(request.scope, client_gone="body")
        raise ClientGone() from None
    return b"".join(chunks)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong. Every
    translated route reads its body here once, so a request's media budget starts here."""
    # Imported here, not at the top: media (and its URL parser) load only once a
    # translated route runs; the native path and a cold start never need them.
    from . import media

    media.start_request()
    raw = await read_body(request, settings_of(request.scope).max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8 text.") from None
    try:
        body = loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc.msg} at position {exc.pos}.") from None
    except ValueError as exc:  # NaN, Infinity, 1e400, thousands of digits, deep nesting
        raise BadRequest(f"The request body is not valid JSON: {str(exc)[:120]}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    check_items(body)  # before any translation walks them (bounds.py)
    if "\\ud" in text or "\\uD" in text:
        try:  # a lone surrogate cannot be sent on as UTF-8
            json_bytes(body)
        except UnicodeEncodeError:
            raise BadRequest("The request body holds a lone UTF-16 surrogate (\\ud800-\\udfff).") from None
    return body


def upstream_body(payload: dict[str, Any]) -> bytes:
    """A translated request as the JSON body sent upstream; a 400 (never a 500) when it
    cannot be written: nested deeper than the encoder walks (a client's deep `arguments`
    object ends up a few levels deeper than it was sent), or not representable."""
    try:
        return json_bytes(payload)
    except RecursionError:
        raise BadRequest("The request is nested too deeply to be sent on.") from None
    except (ValueError, TypeError, UnicodeEncodeError):
        raise BadRequest("The request holds a value that cannot be sent on as JSON.") from None


async def call(
    request: Request, method: str, path: str, body: bytes | None, creds: Credentials, model: str | None = None
) -> Outcome:
    headers = JSON_HEADERS if body is not None else {}
    scope = request.scope
    return await send(settings_of(scope), cooldown_of(scope), method, path, headers, body, creds, model=model)


async def call_json(
    request: Request, method: str, path: str, body: bytes | None, creds: Credentials, model: str | None = None
) -> tuple[Any, dict[str, str]]:
    """One upstream call answered by one JSON document: (the parsed answer, the proxy's
    headers). An upstream failure raises it with its own status; a body that broke off
    or is not JSON is a 502."""
    try:
        outcome = await until_disconnect(
            request.scope, request.receive, call(request, method, path, body, creds, model)
        )
    except ClientGone:
        note(request.scope, client_gone="waiting")
        raise
    headers = note_outcome(request.scope, outcome)
    if not outcome.ok:
        raise failure(outcome, headers)
    assert outcome.response is not None
    try:
        return json.loads(await outcome.response.read(MAX_ANSWER_BYTES)), headers
    except UpstreamError as exc:
        raise UpstreamFailed(exc.message, status=exc.status, headers=headers) from None
    except (ValueError, RecursionError):
        raise UpstreamFailed(UNEXPECTED, headers=headers) from None


async def call_many(
    request: Request, posts: list[tuple[str, bytes]], creds: Credentials, model: str | None = None
) -> tuple[list[Any], dict[str, str]]:
    """Several POST calls at once (a batch split in parts): the answers in order and the
    last call's headers; the first failure is raised (the others are cancelled)."""
    tasks = [asyncio.ensure_future(call_json(request, "POST", path, body, creds, model)) for path, body in posts]
    try:
        results = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return [data for data, _ in results], results[-1][1]


async def generate(
    request: Request,
    creds: Credentials,
    model: str,
    payload: dict[str, Any],
    streamed: bool,
    shape: Shape,
    heartbeat: bytes,
    translator: Callable[[], Translator],
    whole: Callable[[Any], bytes],
) -> Response | TranslatedStream:
    """A translated route's one Gemini generate call: streamed through the protocol's
    `translator`, or whole, the answer turned into the client's by `whole(data)`."""
    body, creds = await affinity.for_body(request.scope, creds, upstream_body(payload))  # files on their key
    name = quote(model, safe="")
    if streamed:
        path = f"/v1beta/models/{name}:streamGenerateContent?alt=sse"
        return stream(request, path, body, creds, translator(), shape, heartbeat, model)
    data, headers = await call_json(request, "POST", f"/v1beta/models/{name}:generateContent", body, creds, model)
    try:
        answer = whole(data)
    except (AttributeError, TypeError, KeyError, IndexError):
        raise UpstreamFailed(UNEXPECTED, headers=headers) from None
    return Response(answer, headers=headers, media_type="application/json")


class GeminiCall(Protocol):
    """What a protocol's request translator hands back."""

    model: str
    payload: dict[str, Any]
    stream: bool


C = TypeVar("C", bound=GeminiCall)


async def translated(
    request: Request,
    to_gemini: Callable[[dict[str, Any], Settings], Awaitable[C]],
    shape: Shape,
    heartbeat: bytes,
    translator: Callable[[C], Translator],
    whole: Callable[[C, Any], bytes],
) -> Response | TranslatedStream:
    """A translated route from end to end: credentials first, then the body through the
    protocol's `to_gemini`, then the one generate call (`generate`)."""
    creds = await credentials_of(request)
    call = await to_gemini(await read_json(request), settings_of(request.scope))
    return await generate(
        request,
        creds,
        call.model,
        call.payload,
        call.stream,
        shape,
        heartbeat,
        lambda: translator(call),
        lambda data: whole(call, data),
    )


def stream(
    request: Request,
    path: str,
    body: bytes,
    creds: Credentials,
    translator: Translator,
    shape: Shape,
    heartbeat: bytes,
    model: str | None = None,
) -> TranslatedStream:
    """The streamed answer to a translated call (see streaming.TranslatedStream)."""
    settings = settings_of(request.scope)
    return TranslatedStream(
        lambda: call(request, "POST", path, body, creds, model),
        translator,
        shape,
        heartbeat,
        settings.heartbeat_seconds,
        lambda outcome: note_outcome(request.scope, outcome),
        creds,
    )
