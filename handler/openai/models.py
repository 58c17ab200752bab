"""GET /models and /models/{id} in OpenAI's shape, from Gemini's own model list.

STUB: to be written (see the OpenAI issue).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import openai_error


async def list_models(request: Request) -> Response:
    return openai_error(501, "Model listing is not implemented yet.")


async def get_model(request: Request) -> Response:
    return openai_error(501, "Model lookup is not implemented yet.")
