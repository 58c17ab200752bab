"""What every OpenAI route shares: reading the JSON body, keys, and OpenAI-shaped errors.

OpenAI clients get OpenAI errors (`{"error": {"message", "type", "param", "code"}}`)
with the real upstream status: a Gemini 429 stays a 429 with `Retry-After`, never a
500, never plain text, never a stack trace.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..lazy import aiohttp
from ..errors import openai_error
from ..keys import AuthError
from ..proxy_io import header_map, note_outcome, outcome_headers, request_keys
from ..config import Settings
from ..upstream import Outcome, error_message, send as send_upstream


class BadRequest(Exception):
    """Bad input from the client: answered with 400 before anything goes upstream."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


def bad_request_response(exc: BadRequest) -> Response:
    return openai_error(exc.status, exc.message, exc.param)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or BadRequest that says what is wrong."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc.msg} at position {exc.pos}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


async def request_keys_or_error(request: Request) -> tuple[str, ...] | Response:
    """The keys this request may use, or the OpenAI-shaped 401/503 to return."""
    try:
        return await request_keys(request.scope, header_map(request.scope))
    except AuthError as exc:
        return openai_error(exc.status, exc.message)


def proxy_headers(request: Request, outcome: Outcome) -> dict[str, str]:
    """Note the outcome in the access log; the x-proxy-* headers for the response."""
    note_outcome(request.scope, outcome)
    return {k.decode(): v.decode() for k, v in outcome_headers(outcome)}


def outcome_message(outcome: Outcome) -> str:
    """What went wrong upstream, in words: ours, Gemini's message, or the status."""
    return outcome.message or error_message(outcome.body) or f"The Gemini API answered {outcome.status}."


def upstream_error(request: Request, outcome: Outcome, not_found_code: str | None = None) -> Response:
    """The final upstream failure of `outcome` as an OpenAI error with the same status."""
    headers = proxy_headers(request, outcome)
    status = outcome.status
    message = outcome_message(outcome)
    code = not_found_code if status == 404 else None
    return openai_error(status, message, code=code, headers=headers)


async def call_json(
    settings: Settings, method: str, path: str, body: bytes | None, keys: tuple[str, ...]
) -> tuple[Outcome, Any]:
    """One upstream call whose answer is one JSON document: the outcome, and the parsed
    answer when it succeeded (None when the body broke off or was not JSON)."""
    headers = {"content-type": "application/json"} if body is not None else {}
    outcome = await send_upstream(settings, method, path, headers, body, keys)
    if not outcome.ok:
        return outcome, None
    try:
        data = json.loads(await outcome.response.read())
    except (ValueError, asyncio.TimeoutError, aiohttp.ClientError, OSError):
        data = None
    finally:
        outcome.response.release()
    return outcome, data
