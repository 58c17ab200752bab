"""One error convention: a small exception family, rendered in the shape of the API called.

Anything below the routes raises a `ProxyError` (status, message, param, code); the app's
exception handler renders it as Gemini (`{"error": {"code", "message", "status"}}`),
OpenAI (`{"error": {"message", "type", "param", "code"}}`) or Anthropic
(`{"type": "error", "error": {"type", "message"}}`), chosen by the path that was called
(`shape_for`). No route repeats a try/except preamble, and no error body ever carries
a stack trace or an unmasked key.

Statuses follow decision 9 for OpenAI and Anthropic's own table for Anthropic; an
invalid Gemini key (Gemini's 400 API_KEY_INVALID) is a 401 on the OpenAI and Anthropic
routes (their SDKs raise AuthenticationError for it), and Gemini's 503 "overloaded" is
Anthropic's 529 `overloaded_error`, which Claude Code retries. Gemini's 400 about a thought
signature says, on the Anthropic routes, what Anthropic says of a bad thinking signature
(`SIGNATURE_WORDING`, Gemini's words after it): on that wording Claude Code strips the
thinking blocks from its history and retries once by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from starlette.responses import Response

from .encoding import json_bytes
from .paths import Api, api_of

Shape = Literal["gemini", "openai", "anthropic"]

GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    431: "INVALID_ARGUMENT",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
OPENAI_TYPE = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("not_found_error", None),
    405: ("invalid_request_error", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}

SIGNATURE_WORDING = "Invalid `signature` in `thinking` block"

SHAPES: dict[Api, Shape] = {
    "native": "gemini",
    "health": "gemini",
    "openai": "openai",
    "responses": "openai",
    "media": "openai",
    "anthropic": "anthropic",
}


def shape_for(path: str) -> Shape:
    """Which API a path belongs to (the path table, paths.py), for the shape of its
    errors (404 and 405 included)."""
    return SHAPES[api_of(path)]


class ProxyError(Exception):
    """An answer the proxy gives instead of (or about) an upstream call."""

    status = 500

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        invalid_key: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})
        self.invalid_key = invalid_key


class BadRequest(ProxyError):
    """Bad input: answered before anything goes upstream."""

    status = 400


class Unauthorized(ProxyError):
    status = 401


class NotFound(ProxyError):
    status = 404


class TooLarge(ProxyError):
    status = 413


class Unavailable(ProxyError):
    status = 503


class UpstreamFailed(ProxyError):
    """The Gemini API failed (its own status) or could not be reached (502, 504)."""

    status = 502


def status_for(shape: Shape, exc: ProxyError) -> int:
    if shape == "gemini":
        return exc.status
    if exc.invalid_key:
        return 401
    if shape == "anthropic" and exc.status == 503:
        return 529
    return exc.status


def body_for(shape: Shape, exc: ProxyError) -> dict[str, Any]:
    """The error body in `shape` (also what a stream's final error event carries)."""
    status = status_for(shape, exc)
    if shape == "openai":
        kind, code = OPENAI_TYPE.get(status, ("api_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": exc.message, "type": kind, "param": exc.param, "code": exc.code or code}}
    if shape == "anthropic":
        kind = ANTHROPIC_TYPE.get(status, "api_error" if status >= 500 else "invalid_request_error")
        message = exc.message
        if status == 400 and "thought" in message.lower() and "signature" in message.lower():
            message = f"{SIGNATURE_WORDING} (Gemini: {message})"
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"code": status, "message": exc.message, "status": GEMINI_STATUS.get(status, "UNKNOWN")}}


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status_code=status, headers=dict(headers or {}), media_type="application/json")


def render(shape: Shape, exc: ProxyError) -> Response:
    return json_response(body_for(shape, exc), status_for(shape, exc), exc.headers)


def gemini_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A Gemini-shaped error response (native routes, /verify)."""
    return render("gemini", ProxyError(message, status=status, headers=headers))
