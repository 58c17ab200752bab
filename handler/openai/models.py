"""GET /models and /models/{id} in OpenAI's shape, from Gemini's own model list.

The list asks Gemini for its largest page (1000) and follows `nextPageToken` to the
end (the peers read only the first page of 50). Ids drop the `models/` prefix, which
is what the chat route accepts back. Gemini gives no creation time, so `created` is 0;
`owned_by` is "google". Only Gemini's own models are listed, not `MODEL_ALIASES`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound, UpstreamFailed, json_response
from ..translate import calls

PAGE_SIZE = 1000
MAX_PAGES = 20  # a guard against an upstream that never stops paging
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]*")


def openai_model(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(model.get("name", "")).removeprefix("models/"),
        "object": "model",
        "created": 0,
        "owned_by": "google",
    }


BAD_LIST = "The Gemini API answered with an unexpected model list."


async def list_models(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    data: list[dict[str, Any]] = []
    token = ""
    headers: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        path = f"/v1beta/models?pageSize={PAGE_SIZE}" + (f"&pageToken={quote(token, safe='')}" if token else "")
        page, headers = await calls.call_json(request, "GET", path, None, creds)
        if not isinstance(page, dict) or not isinstance(page.get("models", []), list):
            raise UpstreamFailed(BAD_LIST, headers=headers)
        data += [openai_model(m) for m in page.get("models", []) if isinstance(m, dict)]
        token = page.get("nextPageToken") or ""
        if not isinstance(token, str) or not token:
            break
    return json_response({"object": "list", "data": data}, headers=headers)


async def get_model(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    model_id = request.path_params["model"].removeprefix("models/")
    if not MODEL_ID.fullmatch(model_id):
        raise NotFound(f"The model '{model_id[:100]}' does not exist.", code="model_not_found")
    model, headers = await calls.call_json(request, "GET", f"/v1beta/models/{model_id}", None, creds)
    if not isinstance(model, dict) or not model.get("name"):
        raise UpstreamFailed(BAD_LIST, headers=headers)
    return json_response(openai_model(model), headers=headers)
