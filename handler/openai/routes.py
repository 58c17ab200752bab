"""The OpenAI routes, bare and under /v1, /openai/v1 and /hf/v1 (the heavyweight Python
proxy's HuggingFace-style prefix).

`GET /v1/models[/{id}]` stays Gemini's own list for Gemini clients: a caller that sends
`x-goog-api-key` or `?key=` gets the native pass-through.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .. import native
from . import chat, embeddings, models

PREFIXES = ("", "/v1", "/openai/v1", "/hf/v1")


def _gemini_client(scope: Scope) -> bool:
    if any(name == b"x-goog-api-key" for name, _ in scope["headers"]):
        return True
    return any(p.split(b"=", 1)[0] == b"key" for p in scope["query_string"].split(b"&"))


class _ModelsOrNative:
    """An ASGI app (a class, so that Route passes it scope/receive/send as they are)."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/v1/") and _gemini_client(scope):
            await native.proxy(scope, receive, send)
            return
        response: Response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


routes: list[BaseRoute] = []
for prefix in PREFIXES:
    routes += [
        Route(f"{prefix}/chat/completions", chat.create, methods=["POST"]),
        Route(f"{prefix}/embeddings", embeddings.create, methods=["POST"]),
        Route(f"{prefix}/models", _ModelsOrNative(models.list_models), methods=["GET"]),
        Route(f"{prefix}/models/{{model:path}}", _ModelsOrNative(models.get_model), methods=["GET"]),
    ]
