"""POST /v1/responses (also bare /responses and /openai/v1/responses) -> Gemini
generateContent / streamGenerateContent, with the same credentials, key choice,
failover and commit rules as the chat route (calls.py, streaming.py).

Stateless by design: nothing is stored, so `GET /v1/responses/{id}` (and its delete,
cancel and input_items) and the conversations API answer 404 in OpenAI's shape, saying
to send the whole conversation in `input`. Compaction needs no state either
(compaction.py): `POST /v1/responses/compact`, and an `input` that ends in a
`compaction_trigger` item, answer a `compaction` item that carries its sealed summary.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from ..encoding import json_bytes
from ..errors import NotFound
from ..sse import COMMENT_HEARTBEAT
from ..state import settings_of
from ..translate import calls
from ..translate.protocol import ClientProtocol
from ..translate.streaming import TranslatedStream
from .compaction import secrets_for
from .compaction_stream import CompactionStream, compacted
from .items import Secrets
from .request import STATELESS, ResponsesCall, to_gemini
from .stream import ResponseStream


def _translator(call: ResponsesCall, emit: bool = True) -> ResponseStream:
    return CompactionStream(call, emit) if call.compact else ResponseStream(call, emit)


RESPONSES = ClientProtocol(
    "openai responses",
    to_gemini,
    whole=lambda call, data: json_bytes(_translator(call, emit=False).whole(data)),
    stream=_translator,
    shape="openai",
    heartbeat=COMMENT_HEARTBEAT,
)


async def create(request: Request) -> Response | TranslatedStream:
    return await replace(RESPONSES, to_gemini=partial(to_gemini, secrets=_secrets(request))).create(request)


async def compact(request: Request) -> Response | TranslatedStream:
    """POST /v1/responses/compact: the whole input compacted into one sealed item."""
    protocol = replace(
        RESPONSES,
        to_gemini=partial(to_gemini, secrets=_secrets(request), compact=True),
        whole=lambda call, data: json_bytes(compacted(call, data)),
    )
    return await protocol.create(request)


async def stored(request: Request) -> Response:
    """Anything that would read stored state: a clear 404."""
    raise NotFound(f"{request.method} {request.url.path}: nothing to find. {STATELESS}", code="not_found")


def _secrets(request: Request) -> Secrets:
    """The compaction secrets of this request's credentials, worked out only when asked."""

    async def secrets() -> list[bytes]:
        return await secrets_for(settings_of(request.scope), await calls.credentials_of(request))

    return secrets
