"""POST|GET /verify: check each key on its own and say what is wrong with it.

Keys come from any credential place (comma-separated); an access token checks the
server-side pool. Each key gets exactly one call, without failover (a check is about
that key), at most `CONCURRENCY` at a time, each bounded by a timeout (`?timeout=`
seconds, default 10, or 30 for the generate probe; at most 60).

Probes: by default `GET /v1beta/models?pageSize=1` (a one-item model list), which
depends on no model name (models are retired monthly) and costs no generation quota:
it proves a key is valid and not suspended, but cannot see an exhausted generation
quota (`?model=` reads that model's metadata instead). `?probe=generate` makes a
one-token generateContent call on `?model=`, by default the newest flash model
resolved from the live model list (catalog.families), which proves the key can
generate and spends one request of its quota.

Answer: server-sent events by default, one `data:` event per key as soon as its check
ends (in completion order), then `data: {"summary": {...}}`, then `data: [DONE]`. With
`Accept: application/json` or `?format=json`: `{"results": [...], "summary": {...}}`,
results in the order the keys were given. Keys are always masked; Gemini messages that
quote a key get it masked too. What a check learns about rate limits also feeds the
in-memory cooldown that failover uses: all of it for the pool's keys, at most
`MAX_FOREIGN_NOTES` entries per call for callers' own keys (256 made-up keys per call
must not flood the cooldown's table of callers' keys).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import upstream
from ..catalog.families import resolve_family
from ..config import Settings
from ..disconnect import ClientGone, until_disconnect
from ..errors import ProxyError, gemini_error, json_response, render
from ..keys import credentials
from ..keys.cooldown import Cooldown
from ..keys.masking import mask, mask_text
from ..logs import note
from ..sse import DONE, frame
from ..state import cooldown_of
from ..upstream.gemini_error import parse

CONCURRENCY = 8
MAX_FOREIGN_NOTES = 8  # cooldown entries one call may record for callers' own keys
MAX_KEYS = 256
MAX_ANSWER = (
    1024 * 1024
)  # bytes of a check's answer read at most  # per request with the caller's own keys: a check is one upstream call per key
DEFAULT_TIMEOUT = 10.0
GENERATE_TIMEOUT = 30.0  # thinking models may take a while even for one token
MAX_TIMEOUT = 60.0
DEFAULT_FAMILY = "flash"  # the generate probe's model when none is named
LIST_PROBE = "/v1beta/models?pageSize=1"
STATUSES = ("valid", "invalid", "rate_limited", "quota_exhausted", "permission_denied", "unavailable", "error")
PROBES = ("metadata", "generate")
GENERATE_BODY = json.dumps(
    {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {"maxOutputTokens": 1}}
).encode()
NOTE = (
    "The default probe reads a one-item model list: it shows a key is valid and not suspended, "
    "but cannot see an exhausted generation quota. Use ?probe=generate to check that "
    "(it spends one request of each key's quota)."
)
_MODEL = re.compile(r"(?:models/)?([A-Za-z0-9][A-Za-z0-9._-]*)")


class Options:
    """The query options of one check, validated."""

    def __init__(self, request: Request) -> None:
        query = request.query_params
        self.probe = query.get("probe") or "metadata"
        if self.probe not in PROBES:
            raise ValueError(f"probe must be metadata (the default) or generate, not {self.probe!r}.")
        named = query.get("model") or ""
        match = _MODEL.fullmatch(named)
        if named and not match:
            raise ValueError("model must be a Gemini model name such as gemini-3.8-flash.")
        self.model = match.group(1) if match else ""  # "": no model (list probe, or resolved)
        default = GENERATE_TIMEOUT if self.probe == "generate" else DEFAULT_TIMEOUT
        try:
            self.timeout = float(query.get("timeout") or default)
        except ValueError:
            raise ValueError("timeout must be a number of seconds.") from None
        if not 0.1 <= self.timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be between 0.1 and {MAX_TIMEOUT:g} seconds.")
        fmt = query.get("format")
        if fmt not in (None, "", "json", "sse"):
            raise ValueError(f"format must be json or sse, not {fmt!r}.")
        accept = request.headers.get("accept", "")
        self.json = fmt == "json" or (not fmt and "application/json" in accept and "text/event-stream" not in accept)


def classify(status: int, body: bytes, probe: str) -> tuple[str, str]:
    """The verdict on a key from its answer, and a message saying why."""
    error = parse(status, body)
    message = error.message
    if status < 300:
        return "valid", (
            "The key works and generated a token."
            if probe == "generate"
            else "The key is valid (model list read; generation quota not checked)."
        )
    if status == 429:
        message += f" Retry in {error.retry_delay:g}s." if error.retry_delay is not None else ""
        return ("quota_exhausted" if error.per_day else "rate_limited"), message.strip()
    if status == 401 or error.invalid_key:
        return "invalid", message or "The key is not valid."
    if status == 403:
        return "permission_denied", message or "The key is not allowed to use the Gemini API."
    if status in (500, 502, 503, 504):
        return "unavailable", message or f"The Gemini API answered {status}."
    return "error", message or f"The Gemini API answered {status}."


class Learned:
    """What one /verify call may write into the cooldown (see the module docstring)."""

    def __init__(self, cooldown: Cooldown, owned: bool) -> None:
        self.cooldown = cooldown
        self.owned = owned
        self.left = MAX_FOREIGN_NOTES

    def remember(self, key: str, status: int, answer: bytes, model: str | None) -> None:
        if not self.owned:
            if self.left <= 0:
                return
            self.left -= 1
        self.cooldown.remember(key, parse(status, answer), model, owned=self.owned)


async def check(settings: Settings, learned: Learned, options: Options, key: str) -> dict[str, Any]:
    """One call with one key (no failover): the result entry for that key."""
    if options.probe == "generate" and options.model:
        method, path, body = "POST", f"/v1beta/models/{options.model}:generateContent", GENERATE_BODY
        headers = {"x-goog-api-key": key, "content-type": "application/json"}
    else:  # a model named: its metadata; else a one-item list, which names no model
        method, path, body = "GET", f"/v1beta/models/{options.model}" if options.model else LIST_PROBE, None
        headers = {"x-goog-api-key": key}
    started = time.perf_counter()
    http_status: int | None = None
    try:
        response = await upstream.request(
            settings, method, settings.base_url + path, headers, body, timeout=options.timeout
        )
        http_status = response.status
        answer = await response.read(MAX_ANSWER)
        status, message = classify(http_status, answer, options.probe)
        if http_status >= 400:
            learned.remember(key, http_status, answer, options.model or None)
    except upstream.UpstreamTimeout:
        status, message = "unavailable", f"No answer within {options.timeout:g} s."
    except upstream.UpstreamError:
        status, message = "unavailable", "The Gemini API could not be reached."
    return {
        "key": mask(key),
        "status": status,
        "http_status": http_status,
        "message": mask_text(message, (key,)),
        "latency_ms": round((time.perf_counter() - started) * 1000),
    }


async def results(
    settings: Settings, cooldown: Cooldown, options: Options, creds: credentials.Credentials
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """(index, result) for every key, as each check ends; cancels the rest if abandoned."""
    gate = asyncio.Semaphore(CONCURRENCY)
    learned = Learned(cooldown, creds.pooled)

    async def one(index: int, key: str) -> tuple[int, dict[str, Any]]:
        async with gate:
            return index, await check(settings, learned, options, key)

    tasks = [asyncio.ensure_future(one(i, key)) for i, key in enumerate(creds.keys)]
    try:
        for done in asyncio.as_completed(tasks):
            yield await done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def summary(entries: list[dict[str, Any]], options: Options) -> dict[str, Any]:
    counts: dict[str, Any] = {"total": len(entries), **dict.fromkeys(STATUSES, 0)}
    for entry in entries:
        counts[entry["status"]] += 1
    counts.update(probe=options.probe, model=options.model or None)
    if options.probe == "metadata":
        counts["note"] = NOTE
    return counts


async def _sse(
    settings: Settings, cooldown: Cooldown, options: Options, creds: credentials.Credentials
) -> AsyncIterator[bytes]:
    entries: list[dict[str, Any]] = []
    async for _, entry in results(settings, cooldown, options, creds):
        entries.append(entry)
        yield frame(entry)
    yield frame({"summary": summary(entries, options)})
    yield DONE


async def verify(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    cooldown = cooldown_of(request.scope)
    try:
        options = Options(request)
    except ValueError as exc:
        return gemini_error(400, str(exc))
    values = credentials.credentials(request.headers, credentials.query_map(request.scope["query_string"]))
    if not values:
        return gemini_error(
            400,
            f"No keys to check. Send them comma-separated in {credentials.ACCEPTED}; "
            "or send an access token to check the server's key pool.",
        )
    if len(values) > MAX_KEYS:
        return gemini_error(400, f"Too many keys: at most {MAX_KEYS} per check.")
    try:
        creds = await credentials.resolve(settings, values)
    except ProxyError as exc:
        return render("gemini", exc)
    note(request.scope, keys_checked=len(creds.keys), probe=options.probe)
    if options.probe == "generate" and not options.model:
        try:
            options.model = await resolve_family(request.scope, creds, DEFAULT_FAMILY)
        except ProxyError:  # no key could read the list: each key's list answer says why
            pass
    if options.json:

        async def collect() -> list[tuple[int, dict[str, Any]]]:
            return [item async for item in results(settings, cooldown, options, creds)]

        try:  # a caller who leaves stops the checks (the SSE form stops with its stream)
            indexed = sorted(
                await until_disconnect(request.scope, request.receive, collect()), key=lambda item: item[0]
            )
        except ClientGone:
            note(request.scope, client_gone="waiting")
            raise
        entries = [entry for _, entry in indexed]
        return json_response({"results": entries, "summary": summary(entries, options)})
    return StreamingResponse(
        _sse(settings, cooldown, options, creds),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
