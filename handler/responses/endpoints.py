"""POST /v1/responses (also bare /responses and /openai/v1/responses) -> Gemini
generateContent / streamGenerateContent, with the same credentials, key choice,
failover and commit rules as the chat route (calls.py, streaming.py).

Stateless by design: nothing is stored, so `GET /v1/responses/{id}` (and its delete,
cancel and input_items), `POST /v1/responses/compact` and the conversations API answer
404 in OpenAI's shape, saying to send the whole conversation in `input`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..encoding import json_bytes
from ..errors import NotFound
from ..sse import COMMENT_HEARTBEAT
from ..translate.protocol import ClientProtocol
from .request import STATELESS, to_gemini
from .stream import ResponseStream

RESPONSES = ClientProtocol(
    "openai responses",
    to_gemini,
    whole=lambda call, data: json_bytes(ResponseStream(call, emit=False).whole(data)),
    stream=ResponseStream,
    shape="openai",
    heartbeat=COMMENT_HEARTBEAT,
)
create = RESPONSES.create


async def stored(request: Request) -> Response:
    """Anything that would read stored state: a clear 404."""
    raise NotFound(f"{request.method} {request.url.path}: nothing to find. {STATELESS}", code="not_found")
