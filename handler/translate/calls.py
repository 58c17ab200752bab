"""What every translated route (OpenAI, Responses, Messages, embeddings, images, speech)
does around its translator: credentials, the bounded JSON body, upstream calls answered
by one JSON document, the proxy's headers. A protocol's generate call, whole or
streamed, is translate/protocol's.

Routes raise `errors.ProxyError`; the app renders it in the called API's shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import ClientDisconnect, Request

from ..disconnect import ClientGone, until_disconnect
from ..encoding import json_bytes, loads
from ..errors import BadRequest, ProxyError, TooLarge, UpstreamFailed
from ..keys.credentials import Credentials, from_request
from ..keys.failover import Outcome, failure, note_outcome, send
from ..logs import note
from ..state import cooldown_of, settings_of
from ..upstream import MAX_ANSWER_BYTES, UpstreamError
from .dropped import header as dropped_header
from .streaming import JSON_HEADERS, UNEXPECTED


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
    request: Request,
    method: str,
    path: str,
    body: bytes | None,
    creds: Credentials,
    model: str | None = None,
    dropped: Sequence[str] = (),
) -> tuple[Any, dict[str, str]]:
    """One upstream call answered by one JSON document: (the parsed answer, the proxy's
    headers, `x-proxy-dropped` naming `dropped` among them). An upstream failure raises
    it with its own status; a body that broke off or is not JSON is a 502."""
    try:
        outcome = await until_disconnect(
            request.scope, request.receive, call(request, method, path, body, creds, model)
        )
    except ClientGone:
        note(request.scope, client_gone="waiting")
        raise
    headers = note_outcome(request.scope, outcome) | dropped_header(dropped)
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
