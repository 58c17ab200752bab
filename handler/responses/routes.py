"""POST /v1/responses (also bare /responses and /openai/v1/responses) -> Gemini
generateContent / streamGenerateContent, with the same credentials, key choice,
failover and commit rules as the chat route (calls.py, streaming.py).

Stateless by design: nothing is stored, so `GET /v1/responses/{id}` (and its delete,
cancel and input_items), `POST /v1/responses/compact` and the conversations API answer
404 in OpenAI's shape, saying to send the whole conversation in `input`.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .. import calls
from ..encoding import json_bytes
from ..errors import NotFound, UpstreamFailed
from ..sse import COMMENT_HEARTBEAT
from .request import STATELESS, to_gemini
from .stream import ResponseStream

PREFIXES = ("", "/v1", "/openai/v1")


async def create(request: Request) -> Response | calls.TranslatedStream:
    creds = await calls.credentials_of(request)
    call = await to_gemini(await calls.read_json(request), calls.settings_of(request.scope))
    body = json_bytes(call.payload)
    model = quote(call.model, safe="")
    if call.stream:
        path = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
        return calls.stream(request, path, body, creds, ResponseStream(call), "openai", COMMENT_HEARTBEAT, call.model)
    path = f"/v1beta/models/{model}:generateContent"
    data, headers = await calls.call_json(request, "POST", path, body, creds, call.model)
    try:
        answer = ResponseStream(call, emit=False).whole(data)
    except (AttributeError, TypeError, KeyError, IndexError):
        raise UpstreamFailed(calls.UNEXPECTED, headers=headers) from None
    return Response(json_bytes(answer), headers=headers, media_type="application/json")


async def stored(request: Request) -> Response:
    """Anything that would read stored state: a clear 404."""
    raise NotFound(f"{request.method} {request.url.path}: nothing to find. {STATELESS}", code="not_found")


routes: list[BaseRoute] = []
for prefix in PREFIXES:
    routes += [
        Route(f"{prefix}/responses", create, methods=["POST"]),
        Route(f"{prefix}/responses/{{rest:path}}", stored, methods=["GET", "POST", "DELETE"]),
        Route(f"{prefix}/conversations", stored, methods=["GET", "POST"]),
        Route(f"{prefix}/conversations/{{rest:path}}", stored, methods=["GET", "POST", "DELETE"]),
    ]
