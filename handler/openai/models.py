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

from ..errors import json_response, openai_error
from ..proxy_io import settings_of
from ..upstream import Outcome
from .common import call_json, proxy_headers, request_keys_or_error, upstream_error

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


def _bad_upstream(request: Request, outcome: Outcome) -> Response:
    return openai_error(502, "The Gemini API answered with an unexpected model list.", headers=proxy_headers(request, outcome))


async def list_models(request: Request) -> Response:
    keys = await request_keys_or_error(request)
    if isinstance(keys, Response):
        return keys
    data: list[dict[str, Any]] = []
    token = ""
    for _ in range(MAX_PAGES):
        path = f"/v1beta/models?pageSize={PAGE_SIZE}" + (f"&pageToken={quote(token, safe='')}" if token else "")
        outcome, page = await call_json(settings_of(request.scope), "GET", path, None, keys)
        if not outcome.ok:
            return upstream_error(request, outcome)
        if not isinstance(page, dict) or not isinstance(page.get("models", []), list):
            return _bad_upstream(request, outcome)
        data += [openai_model(m) for m in page.get("models", []) if isinstance(m, dict)]
        token = page.get("nextPageToken") or ""
        if not isinstance(token, str) or not token:
            break
    return json_response({"object": "list", "data": data}, headers=proxy_headers(request, outcome))


async def get_model(request: Request) -> Response:
    keys = await request_keys_or_error(request)
    if isinstance(keys, Response):
        return keys
    model_id = request.path_params["model"].removeprefix("models/")
    if not MODEL_ID.fullmatch(model_id):
        return openai_error(404, f"The model '{model_id[:100]}' does not exist.", code="model_not_found")
    outcome, model = await call_json(settings_of(request.scope), "GET", f"/v1beta/models/{model_id}", None, keys)
    if not outcome.ok:
        return upstream_error(request, outcome, not_found_code="model_not_found")
    if not isinstance(model, dict) or not model.get("name"):
        return _bad_upstream(request, outcome)
    return json_response(openai_model(model), headers=proxy_headers(request, outcome))
