"""Error bodies in the shape of the API that was called.

Native routes answer like Gemini (`{"error": {"code", "message", "status"}}`), OpenAI
routes like OpenAI (`{"error": {"message", "type", "param", "code"}}`). Neither ever
carries a stack trace or a key.
"""

from __future__ import annotations

import math

from starlette.responses import Response

from .encoding import json_bytes

GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
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
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json_bytes(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def gemini_error_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message, "status": GEMINI_STATUS.get(status, "UNKNOWN")}}


def gemini_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(gemini_error_body(status, message), status, headers)


def openai_error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind, default_code = OPENAI_TYPE.get(status, ("api_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}


def openai_error(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(openai_error_body(status, message, param, code), status, headers)


def retry_after_seconds(delay: str | float | None) -> str | None:
    """`Retry-After` in whole seconds, rounded up, from Gemini's `"37.5s"` or a number."""
    if delay is None:
        return None
    try:
        seconds = float(str(delay).strip().rstrip("s"))
    except ValueError:
        return None
    return str(max(0, math.ceil(seconds)))
