"""POST /v1/messages and /v1/messages/count_tokens (also without /v1): the Anthropic
Messages API on Gemini. `anthropic-version` and `anthropic-beta` headers and `?beta=true`
are accepted and never sent to Google (only the translated body goes upstream)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..encoding import json_bytes
from ..errors import UpstreamFailed, json_response
from ..state import settings_of
from ..translate import calls
from ..translate.streaming import TranslatedStream
from .request import to_gemini
from .response import message
from .stream import PING, MessageStream


async def create(request: Request) -> Response | TranslatedStream:
    return await calls.translated(
        request,
        to_gemini,
        "anthropic",
        PING,
        lambda call: MessageStream(call.name, call.single_tool),
        lambda call, data: message(data, call.name, call.single_tool),
    )


async def count_tokens(request: Request) -> Response:
    """`{"input_tokens": N}` from Gemini's countTokens on the translated request."""
    creds = await calls.credentials_of(request)
    given, settings = await calls.read_json(request), settings_of(request.scope)
    call = await calls.translate(request, creds, lambda: to_gemini(given, settings, counting=True))
    counted = {k: v for k, v in call.payload.items() if k in ("contents", "systemInstruction", "tools")}
    body = json_bytes({"generateContentRequest": {"model": f"models/{call.model}", **counted}})
    path = f"/v1beta/models/{quote(call.model, safe='')}:countTokens"
    data, headers = await calls.call_json(request, "POST", path, body, creds, call.model)
    total = data.get("totalTokens") if isinstance(data, dict) else None
    if not isinstance(total, int):
        raise UpstreamFailed(calls.UNEXPECTED, headers=headers)
    return json_response({"input_tokens": total}, headers=headers)
