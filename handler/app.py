"""The Starlette app: routes, CORS and the access log. `uvicorn handler.app:app` runs it.

Routing, in order: `/`, `/healthz`, `/verify`, `/status` (and `/status/data`,
`/status/metrics`), the OpenAI routes (`/chat/completions`, `/embeddings`, `/models`,
bare or under `/v1/` and `/openai/v1/`), then every other
path under `/v1beta/`, `/v1/`, `/v1alpha/` and `/upload/` goes to Gemini as it is,
through `Proxy`, a fast path past Starlette's router.
`GET /v1/models[/{id}]` is Gemini's own list when the caller sends `x-goog-api-key` or
`?key=` (as Gemini clients do) and OpenAI's otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import lazy, logs, native, upstream
from .config import Settings
from .errors import gemini_error, json_response

EXPOSED_HEADERS = ["x-proxy-key", "x-proxy-attempts", "retry-after", "x-goog-upload-url", "x-goog-upload-status"]


def landing(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return PlainTextResponse(
        "Gemini Edge Proxy is running.\n\n"
        "Native Gemini API: use this URL as the base URL of a Gemini client (/v1beta/...).\n"
        "OpenAI API: use this URL (or this URL + /v1) as the base URL of an OpenAI client.\n"
        "Send your Gemini key(s), comma-separated, in x-goog-api-key, ?key=, Authorization: Bearer\n"
        "or x-api-key, or an access token to use the server's key pool.\n"
        "Check keys: curl -X POST <this URL>/verify -H 'x-goog-api-key: k1,k2'\n"
        "Key health page (for a browser): <this URL>/status\n\n"
        f"Server key pool: {len(settings.api_keys)} key(s) from the environment"
        f"{' plus a Secrets Manager secret' if settings.keys_secret_arn else ''}; "
        f"client keys {'accepted' if settings.allow_client_keys else 'not accepted'}.\n"
    )


def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def not_found(request: Request, exc: Exception) -> Response:
    return gemini_error(404, f"No route for {request.method} {request.url.path}.")


def internal_error(path: str, exc: Exception) -> Response:
    """Log the error's type (never its text, which may quote a request) and answer a JSON 500."""
    logs.logger.error("unhandled error", extra={"fields": {"error": type(exc).__name__, "path": path}})
    return gemini_error(500, "The proxy hit an internal error.")


async def server_error(request: Request, exc: Exception) -> Response:
    return internal_error(request.url.path, exc)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return gemini_error(405, f"{request.method} is not allowed on {request.url.path}.")


def extra_routes() -> list[BaseRoute]:
    """Routes of the other modules (OpenAI, /verify, /status)."""
    from . import status, verify
    from .openai import routes as openai_routes

    return [*verify.routes, *status.routes, *openai_routes.routes]


NATIVE_PREFIXES = ("/v1beta/", "/v1alpha/", "/upload/", "/v1/")


def is_native(scope: Scope, path: str) -> bool:
    """Whether a path is Gemini's, not one of the OpenAI routes that live under /v1/.

    `/v1/models` and `/v1/models/{id}` (GET, no `:method`) go to the OpenAI routes,
    which send Gemini clients on to the native pass-through themselves.
    """
    if not path.startswith(NATIVE_PREFIXES):
        return False
    if path.startswith(("/v1/chat/", "/v1/embeddings")):
        return False
    if path == "/v1/models" or path.startswith("/v1/models/"):
        return scope["method"] != "GET" or ":" in path
    return True


class Proxy:
    """The ASGI app: native calls take a fast path, everything else goes to Starlette.

    Native pass-through is nearly all of the traffic; sending it straight to
    `native.proxy` (with the same CORS and access-log middleware) skips Starlette's
    route matching and exception layers, a good part of the proxy's CPU per request.
    """

    def __init__(self, app: Starlette, native_app: ASGIApp) -> None:
        self.app = app
        self.state = app.state
        self.native = native_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and is_native(scope, path):
            scope["app"] = self.app
            await self.native(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def guarded_native(scope: Scope, receive: Receive, send: Send) -> None:
    """native.proxy with Starlette's last-resort error handling: a JSON 500, no trace."""
    started = False

    async def send_wrapper(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await native.proxy(scope, receive, send_wrapper)
    except Exception as exc:
        response = internal_error(scope["path"], exc)
        if not started:
            await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> Proxy:
    settings = settings or Settings.from_env()
    logs.setup(settings.log_level)
    if settings.api_keys and not settings.access_tokens and not settings.keys_secret_arn:
        logs.logger.warning(
            "GEMINI_API_KEYS is set but ACCESS_TOKENS is empty: the server key pool will not be used "
            "by anyone. Set ACCESS_TOKENS to let token holders use it."
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Load aiohttp (see lazy.py) a moment after start: after the server listens and
        # has answered the readiness check, before the first proxied request, usually.
        asyncio.get_running_loop().call_later(0.1, lazy.warm_up)
        yield
        await upstream.close_sessions()

    middleware = [
        Middleware(logs.AccessLog),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
            max_age=86400,
        ),
    ]
    app = Starlette(
        routes=[Route("/", landing), Route("/healthz", healthz), *extra_routes()],
        middleware=middleware,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    native_app: ASGIApp = guarded_native
    for cls, args, kwargs in reversed(middleware):
        native_app = cls(native_app, *args, **kwargs)
    return Proxy(app, native_app)


app = create_app()
