"""Every routed path (all but the native pass-through) and what serves it.

Endpoints are named as "module:function" and imported on their first request: a cold
start (the Lambda readiness check, the first native call) does not pay for the
translators of protocols it has not been asked to speak yet.

`GET /v1/models[/{id}]` is Gemini's own list for Gemini clients (a caller that sends
`x-goog-api-key` or `?key=`, decision 13) and OpenAI's otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from . import native

# `/hf/v1`: the heavyweight Python peer's prefix, so that configs copied from it work.
OPENAI_PREFIXES = ("", "/v1", "/openai/v1", "/hf/v1")
Endpoint = Callable[[Request], Awaitable[Any]]


def lazy(target: str) -> Endpoint:
    """An endpoint that imports "handler.module:function" on its first request."""
    module_name, _, name = target.partition(":")

    async def endpoint(request: Request) -> Any:
        return await getattr(importlib.import_module(module_name), name)(request)

    endpoint.__name__ = name
    return endpoint


def _gemini_client(scope: Scope) -> bool:
    if any(name == b"x-goog-api-key" for name, _ in scope["headers"]):
        return True
    return any(p.split(b"=", 1)[0] == b"key" for p in scope["query_string"].split(b"&"))


class ModelsOrNative:
    """An ASGI app (a class, so that Route passes it scope/receive/send as they are)."""

    def __init__(self, target: str) -> None:
        self.endpoint = lazy(target)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/v1/") and _gemini_client(scope):
            await native.proxy(scope, receive, send)
            return
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


def _openai() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for prefix in OPENAI_PREFIXES:
        routes += [
            Route(f"{prefix}/chat/completions", lazy("handler.openai.chat:create"), methods=["POST"]),
            Route(f"{prefix}/embeddings", lazy("handler.openai.embeddings:create"), methods=["POST"]),
            Route(f"{prefix}/models", ModelsOrNative("handler.openai.models:list_models"), methods=["GET"]),
            Route(
                f"{prefix}/models/{{model:path}}", ModelsOrNative("handler.openai.models:get_model"), methods=["GET"]
            ),
            Route(f"{prefix}/responses", lazy("handler.responses.endpoints:create"), methods=["POST"]),
            Route(f"{prefix}/responses/compact", lazy("handler.responses.endpoints:compact"), methods=["POST"]),
            Route(
                f"{prefix}/responses/{{rest:path}}",
                lazy("handler.responses.endpoints:stored"),
                methods=["GET", "POST", "DELETE"],
            ),
            Route(f"{prefix}/conversations", lazy("handler.responses.endpoints:stored"), methods=["GET", "POST"]),
            Route(
                f"{prefix}/conversations/{{rest:path}}",
                lazy("handler.responses.endpoints:stored"),
                methods=["GET", "POST", "DELETE"],
            ),
        ]
    for prefix in OPENAI_PREFIXES:
        routes += [
            Route(f"{prefix}/images/generations", lazy("handler.openai.images:generations"), methods=["POST"]),
            Route(f"{prefix}/images/edits", lazy("handler.openai.images:edits"), methods=["POST"]),
            Route(f"{prefix}/audio/speech", lazy("handler.openai.speech:create"), methods=["POST"]),
        ]
    return routes


def _anthropic() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for prefix in ("", "/v1"):
        routes += [
            Route(f"{prefix}/messages", lazy("handler.anthropic.endpoints:create"), methods=["POST"]),
            Route(
                f"{prefix}/messages/count_tokens", lazy("handler.anthropic.endpoints:count_tokens"), methods=["POST"]
            ),
        ]
    return routes


def routes() -> list[BaseRoute]:
    return [
        Route("/verify", lazy("handler.health.verify:verify"), methods=["GET", "POST"]),
        Route("/status", lazy("handler.health.status:page"), methods=["GET"]),
        Route("/status/data", lazy("handler.health.status:data"), methods=["GET"]),
        Route("/status/metrics", lazy("handler.health.status:metrics_readout"), methods=["GET"]),
        *_openai(),
        *_anthropic(),
    ]
