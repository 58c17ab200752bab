"""Every routed path (all but the native pass-through) and what serves it: each family of
the path table (paths.py, which says under which prefixes) and its endpoints.

Endpoints are named as "module:function" and imported on their first request: a cold
start (the Lambda readiness check, the first native call) does not pay for the
translators of protocols it has not been asked to speak yet.

`GET /v1/models[/{id}]` is Gemini's own list for Gemini clients (a caller that sends
`x-goog-api-key` or `?key=`, decision 13), Anthropic's for a caller that sends
`anthropic-version` (Claude Code's model discovery), and OpenAI's otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from . import native
from .paths import FAMILIES

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
        self.anthropic = lazy(target.replace("handler.openai.", "handler.anthropic."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/v1/") and _gemini_client(scope):
            await native.proxy(scope, receive, send)
            return
        anthropic = any(name == b"anthropic-version" for name, _ in scope["headers"])
        response = await (self.anthropic if anthropic else self.endpoint)(Request(scope, receive))
        await response(scope, receive, send)


GET, POST, DELETE = ["GET"], ["POST"], ["DELETE"]
STORED = "handler.responses.endpoints:stored"


def _endpoints() -> dict[str, list[tuple[str, Endpoint | ModelsOrNative, list[str]]]]:
    """What each family of the path table serves: (path after the prefix, endpoint, methods)."""
    return {
        "/chat": [("/chat/completions", lazy("handler.openai.chat:create"), POST)],
        "/embeddings": [("/embeddings", lazy("handler.openai.embeddings:create"), POST)],
        "/models": [
            ("/models", ModelsOrNative("handler.openai.models:list_models"), GET),
            ("/models/{model:path}", ModelsOrNative("handler.openai.models:get_model"), GET),
        ],
        "/responses": [
            ("/responses", lazy("handler.responses.endpoints:create"), POST),
            ("/responses/compact", lazy("handler.responses.endpoints:compact"), POST),
            ("/responses/{rest:path}", lazy(STORED), [*GET, *POST, *DELETE]),
        ],
        "/conversations": [
            ("/conversations", lazy(STORED), [*GET, *POST]),
            ("/conversations/{rest:path}", lazy(STORED), [*GET, *POST, *DELETE]),
        ],
        "/images": [
            ("/images/generations", lazy("handler.openai.images:generations"), POST),
            ("/images/edits", lazy("handler.openai.images:edits"), POST),
        ],
        "/audio": [("/audio/speech", lazy("handler.openai.speech:create"), POST)],
        "/messages/count_tokens": [("/messages/count_tokens", lazy("handler.anthropic.endpoints:count_tokens"), POST)],
        "/messages": [("/messages", lazy("handler.anthropic.endpoints:create"), POST)],
        "/verify": [("/verify", lazy("handler.health.verify:verify"), [*GET, *POST])],
        "/status": [
            ("/status", lazy("handler.health.status:page"), GET),
            ("/status/data", lazy("handler.health.status:data"), GET),
            ("/status/metrics", lazy("handler.health.status:metrics_readout"), GET),
        ],
    }


def routes() -> list[BaseRoute]:
    """Every family of the path table, under each of its prefixes."""
    endpoints = _endpoints()
    return [
        Route(prefix + path, endpoint, methods=methods)
        for family in FAMILIES
        for prefix in family.prefixes
        for path, endpoint, methods in endpoints[family.name]
    ]
