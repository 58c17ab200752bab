"""POST /embeddings -> Gemini batchEmbedContents.

STUB: to be written (see the OpenAI issue).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import openai_error


async def create(request: Request) -> Response:
    return openai_error(501, "Embeddings are not implemented yet.")
