"""GET /v1/models and /v1/models/{id} for an Anthropic caller (one that sends
`anthropic-version`): Claude Code's model discovery (docs/claude-code.md).

Claude Code keeps only ids that start with `claude` or `anthropic`, so the list is of
claude-prefixed aliases, each one a name the Messages route already maps to a Gemini
family (translate/models.py with the route's Claude defaults): `claude-gemini-pro`
(every claude-* name but haiku: the pro family) and `claude-haiku-gemini-flash` (the
haiku pattern: the flash family). Then the operator's own exact MODEL_ALIASES whose
names start with claude or anthropic, which map to what the operator chose. The list
is static: it costs no upstream call and no key (Claude Code waits 3 s for it), but it
asks for the same credentials as every route, so a closed proxy stays closed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound, ProxyError, json_response, render
from ..state import settings_of
from ..translate import calls

FAMILIES = (
    ("claude-gemini-pro", "Gemini Pro (via the proxy)"),
    ("claude-haiku-gemini-flash", "Gemini Flash (via the proxy)"),
)
CREATED = "1970-01-01T00:00:00Z"  # Gemini gives no creation time (OpenAI's list says 0 too)


def _entries(request: Request) -> list[dict[str, Any]]:
    names = list(FAMILIES)
    for alias, target in settings_of(request.scope).model_aliases.items():
        if "*" not in alias and alias.lower().startswith(("claude", "anthropic")):
            names.append((alias, f"{alias} ({target.removeprefix('models/')} via the proxy)"))
    return [{"type": "model", "id": i, "display_name": d, "created_at": CREATED} for i, d in dict(names).items()]


async def list_models(request: Request) -> Response:
    try:
        await calls.credentials_of(request)
    except ProxyError as exc:
        return render("anthropic", exc)
    data = _entries(request)
    return json_response({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})


async def get_model(request: Request) -> Response:
    try:
        await calls.credentials_of(request)
        wanted = request.path_params["model"]
        for entry in _entries(request):
            if entry["id"] == wanted:
                return json_response(entry)
        raise NotFound(f"model: {wanted[:100]}")
    except ProxyError as exc:
        return render("anthropic", exc)
