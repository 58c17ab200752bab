"""POST /chat/completions -> Gemini generateContent / streamGenerateContent.

The translation lives in chat_request (OpenAI -> Gemini) and chat_response (Gemini ->
OpenAI); streams go through the shared stream component (streaming.py), with SSE
comments as heartbeats and a final `data: {"error": {...}}` event for a failure after
the commit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..sse import COMMENT_HEARTBEAT
from ..translate import calls
from ..translate.streaming import TranslatedStream
from .chat_request import to_gemini
from .chat_response import ChunkStream, completion


async def create(request: Request) -> Response | TranslatedStream:
    return await calls.translated(
        request,
        to_gemini,
        "openai",
        COMMENT_HEARTBEAT,
        lambda call: ChunkStream(call.model, call.include_usage),
        lambda call, data: completion(data, call.model),
    )
