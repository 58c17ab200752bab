"""POST /v1/messages and /v1/messages/count_tokens (also without /v1): the Anthropic
Messages API on Gemini. `anthropic-version` and `anthropic-beta` headers and `?beta=true`
are accepted and never sent to Google (only the translated body goes upstream)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..encoding import json_bytes
from ..errors import UpstreamFailed, json_response
from ..translate import calls
from ..translate.protocol import ClientProtocol
from ..translate.streaming import TranslatedStream
from .request import to_gemini
from .response import message
from .stream import PING, MessageStream

MESSAGES = ClientProtocol(
    "anthropic messages",
    to_gemini,
    whole=lambda call, data: message(data, call.name, call.single_tool),
    stream=lambda call: MessageStream(call.name, call.single_tool),
    shape="anthropic",
    heartbeat=PING,
    counting=functools.partial(to_gemini, counting=True),
)


def _for(request: Request) -> ClientProtocol[Any]:
    """MESSAGES, its translators told the request's `anthropic-beta` header (betas the
    proxy cannot honour are dropped and named, docs/forward-compatibility.md)."""
    betas = request.headers.get("anthropic-beta")
    if betas is None:
        return MESSAGES
    return dataclasses.replace(
        MESSAGES,
        to_gemini=functools.partial(to_gemini, betas=betas),
        counting=functools.partial(to_gemini, counting=True, betas=betas),
    )


async def create(request: Request) -> Response | TranslatedStream:
    return await _for(request).create(request)


async def count_tokens(request: Request) -> Response:
    """`{"input_tokens": N}` from Gemini's countTokens on the translated request."""
    creds, call = await _for(request).read(request, counting=True)
    counted = {k: v for k, v in call.payload.items() if k in ("contents", "systemInstruction", "tools")}
    body = json_bytes({"generateContentRequest": {"model": f"models/{call.model}", **counted}})
    path = f"/v1beta/models/{quote(call.model, safe='')}:countTokens"
    data, headers = await calls.call_json(request, "POST", path, body, creds, call.model, call.dropped)
    total = data.get("totalTokens") if isinstance(data, dict) else None
    if not isinstance(total, int):
        raise UpstreamFailed(calls.UNEXPECTED, headers=headers)
    return json_response({"input_tokens": total}, headers=headers)
