"""POST /chat/completions -> Gemini generateContent / streamGenerateContent.

The translation lives in chat_request (OpenAI -> Gemini) and chat_response (Gemini ->
OpenAI); streams go through the shared stream component (streaming.py), with SSE
comments as heartbeats and a final `data: {"error": {...}}` event for a failure after
the commit.
"""

from __future__ import annotations

from ..sse import COMMENT_HEARTBEAT
from ..translate.protocol import ClientProtocol
from .chat_request import to_gemini
from .chat_response import ChunkStream, completion

CHAT = ClientProtocol(
    "openai chat",
    to_gemini,
    whole=lambda call, data: completion(data, call.model),
    stream=lambda call: ChunkStream(call.model, call.include_usage),
    shape="openai",
    heartbeat=COMMENT_HEARTBEAT,
)
create = CHAT.create
