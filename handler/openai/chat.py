"""POST /chat/completions -> Gemini generateContent / streamGenerateContent.

The translation lives in chat_request (OpenAI -> Gemini) and chat_response (Gemini ->
OpenAI); streams go through the shared stream component (streaming.py), with SSE
comments as heartbeats and a final `data: {"error": {...}}` event for a failure after
the commit.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from .. import calls
from ..errors import UpstreamFailed
from ..sse import COMMENT_HEARTBEAT
from .chat_request import to_gemini
from .chat_response import ChunkStream, completion


async def create(request: Request) -> Response | calls.TranslatedStream:
    creds = await calls.credentials_of(request)
    call = await to_gemini(await calls.read_json(request), calls.settings_of(request.scope))
    body = calls.upstream_body(call.payload)
    model = quote(call.model, safe="")
    if call.stream:
        path = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
        translator = ChunkStream(call.model, call.include_usage)
        return calls.stream(request, path, body, creds, translator, "openai", COMMENT_HEARTBEAT, call.model)
    path = f"/v1beta/models/{model}:generateContent"
    data, headers = await calls.call_json(request, "POST", path, body, creds, call.model)
    try:
        answer = completion(data, call.model)
    except (AttributeError, TypeError, KeyError):
        raise UpstreamFailed(calls.UNEXPECTED, headers=headers) from None
    return Response(answer, headers=headers, media_type="application/json")
