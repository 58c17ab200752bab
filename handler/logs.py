"""One JSON log line per request, with the masked key that served it.

The line is built only from fields the proxy sets itself (never from request headers
or bodies), so keys and access tokens cannot leak into it; the key appears only as
`keys.mask(key)`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics

logger = logging.getLogger("gemini_proxy")


# One encoder, built once (json.dumps with options builds one per call). default=str: a
# field the proxy set that JSON cannot hold is written as text, never an error.
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"level": record.levelname.lower(), "msg": record.getMessage()}
        extra = getattr(record, "fields", None)
        if extra:
            line.update(extra)
        directive = line.get("_aws")
        if not isinstance(directive, metrics.Directive):
            return _encode(line)
        del line["_aws"]  # an EMF record's directive: its text is written once (metrics.Directive)
        return _encode(line)[:-1] + ',"_aws":' + directive.json() + "}"


class NoTraceback(logging.Filter):
    """Keep an exception's type in a server's log line, never its text or traceback:
    either may quote a request (a key in a URL, a prompt). uvicorn and Mangum log
    unhandled errors with the traceback; this filter trims those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            kind = record.exc_info[0]
            record.msg = f"{record.getMessage()} ({kind.__name__ if kind else 'error'}; traceback withheld)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


TRIMMED_LOGGERS = ("uvicorn.error", "uvicorn.asgi", "mangum", "mangum.http", "mangum.lifespan")


def setup(level: str) -> None:
    """Send our logger's lines to stderr as JSON, whatever the host configured."""
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = True
    # uvicorn's own access log prints the query string, where `?key=` callers put their
    # keys: it is replaced by ours, however the server was started.
    logging.getLogger("uvicorn.access").disabled = True
    for name in TRIMMED_LOGGERS:
        trimmed = logging.getLogger(name)
        if not any(isinstance(f, NoTraceback) for f in trimmed.filters):
            trimmed.addFilter(NoTraceback())


def note(scope: Scope, **fields: Any) -> None:
    """Add fields (upstream status, masked key, attempts) to this request's log line."""
    scope.setdefault("state", {}).setdefault("log", {}).update(fields)


class AccessLog:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streams and cost CPU)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if logger.isEnabledFor(logging.INFO):
                fields: dict[str, Any] = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status or 500,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                }
                fields.update(scope.get("state", {}).get("log", {}))
                metrics.add(scope, fields)  # the line doubles as a CloudWatch EMF record
                # makeRecord + handle: logger.info would also walk the stack for the
                # caller's file and line, which this line does not show.
                record = logger.makeRecord(logger.name, logging.INFO, "", 0, "request", (), None)
                record.fields = fields
                logger.handle(record)
