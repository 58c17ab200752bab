"""The Starlette app: routes, middleware and exception handlers. `uvicorn handler.app:app` runs it.

Native Gemini paths (`/v1beta/`, `/v1/`, `/v1alpha/`, `/upload/`, `/download/`) take a
fast path past the router (`NativeDispatch`); everything else is routed (routes.py): `/`,
`/healthz`, `/verify`, `/status`, and the translated protocols (OpenAI, Responses,
Anthropic Messages), which share `/v1/` with Gemini (`is_native` tells them apart).
Aliases that other tools send: `/gemini/v1beta/...` (any native path under `/gemini`,
the heavyweight Python proxy's prefix) and version-less `/models/{model}:{method}`
(Roo Code with a custom base URL), which is `v1beta`. Errors are rendered in the shape of
the API that was called (errors.shape_for).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import logs, native, routes, upstream
from .affinity.binding import Owners
from .config import Settings
from .errors import ProxyError, json_response, render, shape_for
from .keys.cooldown import Cooldown

EXPOSED_HEADERS = [
    "x-proxy-key",
    "x-proxy-attempts",
    "x-proxy-model",
    "x-proxy-dropped",
    "retry-after",
    "x-goog-upload-url",
    "x-goog-upload-status",
]


async def landing(request: Request) -> Response:
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


async def healthz(request: Request) -> Response:
    """The readiness check. Async, as every endpoint here: Starlette runs a plain function
    in a worker thread, and the first one cost a cold start about 30 ms (anyio's threads)."""
    return json_response({"status": "ok"})


async def proxy_error(request: Request, exc: Exception) -> Response:
    """Every ProxyError raised below a route, in the shape of the API that was called."""
    assert isinstance(exc, ProxyError)
    return render(shape_for(request.url.path), exc)


async def not_found(request: Request, exc: Exception) -> Response:
    return render(
        shape_for(request.url.path), ProxyError(f"No route for {request.method} {request.url.path}.", status=404)
    )


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    message = f"{request.method} is not allowed on {request.url.path}."
    return render(shape_for(request.url.path), ProxyError(message, status=405))


async def server_error(request: Request, exc: Exception) -> Response:
    """Starlette's last resort: log the error's type (never its text or traceback, which
    may quote a request; see logs.NoTraceback) and answer a JSON 500."""
    logs.logger.error("unhandled error", extra={"fields": {"error": type(exc).__name__, "path": request.url.path}})
    return render(shape_for(request.url.path), ProxyError("The proxy hit an internal error."))


NATIVE_PREFIXES = ("/v1beta/", "/v1alpha/", "/upload/", "/download/", "/v1/")
# The translated routes that share Gemini's /v1/ prefix.
TRANSLATED_UNDER_V1 = (
    "/v1/chat/",
    "/v1/embeddings",
    "/v1/images/",
    "/v1/audio/",
    "/v1/responses",
    "/v1/conversations",
    "/v1/messages",
)
GEMINI_ALIAS = "/gemini"


def native_path(path: str) -> str | None:
    """The Gemini path an alias stands for (`/gemini/v1beta/...`, `/models/m:generateContent`),
    or None when `path` is no alias."""
    if path.startswith(GEMINI_ALIAS + "/") and path[len(GEMINI_ALIAS) :].startswith(NATIVE_PREFIXES):
        return path[len(GEMINI_ALIAS) :]
    if path.startswith("/models/") and ":" in path:
        return "/v1beta" + path
    return None


def is_native(scope: Scope, path: str) -> bool:
    """Whether a path is Gemini's, not one of the OpenAI routes that live under /v1/.

    `/v1/models` and `/v1/models/{id}` (GET, no `:method`) go to the OpenAI routes,
    which send Gemini clients on to the native pass-through themselves.
    """
    if not path.startswith(NATIVE_PREFIXES):
        return False
    if path.startswith(TRANSLATED_UNDER_V1):
        return False
    if path == "/v1/models" or path.startswith("/v1/models/"):
        return scope["method"] != "GET" or ":" in path
    return True


class NativeDispatch:
    """Native calls go straight to `native.proxy`, past Starlette's router.

    Native pass-through is nearly all of the traffic; the router and its exception layer
    are a good part of the CPU of a request. This middleware sits inside Starlette's own
    stack (after the access log and CORS, under its last-resort error handler).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_native(scope, scope["path"]):
            await native.proxy(scope, receive, send)
            return
        if scope["type"] == "http" and (path := native_path(scope["path"])) is not None:
            await native.proxy({**scope, "path": path, "raw_path": path.encode()}, receive, send)
            return
        await self.app(scope, receive, send)


def freeze_start_up_heap() -> None:
    """Set the objects alive a moment after start aside from the garbage collector.

    `gc.freeze()` moves them (modules, classes, functions: nearly all of them for good)
    out of the collector's sight, so the collections that requests' garbage sets off no
    longer walk them. Measured with bench/: about a tenth of the CPU of a native call.
    Once per process: tests start many apps in one.
    """
    if not gc.get_freeze_count():
        gc.freeze()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logs.setup(settings.log_level)
    if settings.api_keys and not settings.access_tokens and not settings.keys_secret_arn:
        logs.logger.warning(
            "GEMINI_API_KEYS is set but ACCESS_TOKENS is empty: the server key pool will not be used "
            "by anyone. Set ACCESS_TOKENS to let token holders use it."
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        asyncio.get_running_loop().call_later(0.1, freeze_start_up_heap)
        yield
        await upstream.close_pool()

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
        Middleware(NativeDispatch),
    ]
    app = Starlette(
        routes=[Route("/", landing), Route("/healthz", healthz), *routes.routes()],
        middleware=middleware,
        exception_handlers={ProxyError: proxy_error, 404: not_found, 405: method_not_allowed, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.cooldown = Cooldown()
    app.state.owners = Owners()
    return app


app = create_app()
