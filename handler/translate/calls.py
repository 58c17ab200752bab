"""What every translated route (OpenAI, Responses, Messages, embeddings, images, speech)
does around its translator: credentials, the bounded JSON body, upstream calls answered
by one JSON document, the proxy's headers. A protocol's generate call, whole or
streamed, is translate/protocol's.

Routes raise `errors.ProxyError`; the app renders it in the called API's shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request

from ..affinity import binding as affinity
from ..disconnect import ClientGone, until_disconnect
from ..encoding import json_bytes, loads
from ..errors import BadRequest, ProxyError, TooLarge, UpstreamFailed
from ..keys.credentials import Credentials, from_request
from ..keys.failover import Outcome, failure, note_outcome, send
from ..logs import note
from ..sse import EventParser
from ..state import cooldown_of, settings_of
from ..upstream import MAX_ANSWER_BYTES, UpstreamError
from . import dropped
from .attempt import Attempt, Sender
from .bounds import check_items
from .dropped import header as dropped_header
from .long_decode import Hops, assemble
from .streaming import UNEXPECTED as UNEXPECTED  # re-exported: the routes that read answers whole name it

JSON_HEADERS = {"content-type": "application/json"}


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
    dropped.start()  # names a translator notes deep down (translate.dropped)
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
    resources = affinity.names_resources(path, body)
    return await send(
        settings_of(scope), cooldown_of(scope), method, path, headers, body, creds, model=model, resources=resources
    )


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
    outcome = await _waiting(request, call(request, method, path, body, creds, model))
    headers = note_outcome(request.scope, outcome) | dropped_header(dropped)
    return await _answer(outcome, headers, streamed=False), headers


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


def sender(request: Request) -> Sender:
    """How an Attempt sends one generate call: the body built (files on their key), one
    call with failover."""

    async def send(model: str, payload: dict[str, Any], streamed: bool, creds: Credentials) -> Outcome:
        body, keys = await affinity.for_body(request.scope, creds, upstream_body(payload))
        name = quote(model, safe="")
        method = "streamGenerateContent?alt=sse" if streamed else "generateContent"
        return await call(request, "POST", f"/v1beta/models/{name}:{method}", body, keys, model)

    return send


async def whole_answer(request: Request, attempt: Attempt) -> tuple[Any, dict[str, str]]:
    """A generate call answered whole: (Gemini's answer, the proxy's headers). A long
    Gemini 4 answer is streamed upstream and assembled, its CONTINUATION hops appended
    (translate.long_decode)."""
    outcome = await _waiting(request, attempt.first(None))
    upstream_streamed = attempt.streamed
    headers = note_outcome(request.scope, outcome) | attempt.headers()
    hops = Hops(attempt.call.payload)
    answers = [hops.event(await _answer(outcome, headers, upstream_streamed))]
    while (token := hops.next_token()) is not None:
        outcome = await _waiting(request, attempt.hop(token, outcome.key, upstream_streamed))
        answers.append(hops.event(await _answer(outcome, headers, upstream_streamed)))
    return (assemble(answers) if len(answers) > 1 else answers[0]), headers


async def _waiting(request: Request, work: Awaitable[Outcome]) -> Outcome:
    try:
        return await until_disconnect(request.scope, request.receive, work)
    except ClientGone:
        note(request.scope, client_gone="waiting")
        raise


async def _answer(outcome: Outcome, headers: dict[str, str], streamed: bool) -> Any:
    """One hop's whole answer: the JSON document, or the SSE events assembled."""
    if not outcome.ok:
        raise failure(outcome, headers)
    assert outcome.response is not None
    try:
        raw = await outcome.response.read(MAX_ANSWER_BYTES)
        if not streamed:
            return json.loads(raw)
        parser = EventParser()
        events = [json.loads(payload) for payload in [*parser.feed(raw), *parser.close()]]
    except UpstreamError as exc:
        raise UpstreamFailed(exc.message, status=exc.status, headers=headers) from None
    except (ValueError, RecursionError):
        raise UpstreamFailed(UNEXPECTED, headers=headers) from None
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("error"), dict):
            error = event["error"]
            status = error.get("code") if isinstance(error.get("code"), int) and 400 <= error["code"] < 600 else 502
            raise UpstreamFailed(str(error.get("message") or UNEXPECTED), status=status, headers=headers)
    if not all(isinstance(event, dict) for event in events):
        raise UpstreamFailed(UNEXPECTED, headers=headers)
    return assemble(events)
