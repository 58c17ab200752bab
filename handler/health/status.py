"""GET /status (the key-health page), /status/data (this container's view) and /status/metrics (the fleet's).

The page itself holds no data and needs no credential (a browser cannot send a header
when it opens a URL); everything it shows comes from the two data endpoints, which
need one:

- an access token: the server pool's keys (masked), their cooldowns and figures;
- or one's own Gemini keys (when `ALLOW_CLIENT_KEYS` is on): only those keys.

Credentials are read from headers only (`x-goog-api-key`, `Authorization: Bearer`,
`x-api-key`): a `?key=` here is refused, so the page and anyone copying its calls keep
them out of URLs and logs. With `?as=token` the caller says the value is an access
token: one that is not is refused (401) instead of being taken as a Gemini key, so a
mistyped token gets a clear refusal rather than a list of one "invalid key".

The cooldown view is `app.state.cooldown.snapshot()`, per key and model.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..config import Settings
from ..errors import BadRequest, ProxyError, Unauthorized, json_response
from ..keys import credentials
from ..keys.masking import mask
from ..state import cooldown_of
from . import fleet
from .status_page import page_response
from .verify import MAX_KEYS

NO_STORE = {"cache-control": "no-store"}


async def caller_keys(request: Request) -> tuple[tuple[str, ...], str]:
    """The keys this caller may look at and whose they are ("pool" or "own")."""
    if "key" in request.query_params:
        raise BadRequest(
            "Send the access token or keys in a header here (x-goog-api-key or Authorization: Bearer), never in the URL.",
            headers=NO_STORE,
        )
    values = credentials.credentials(request.headers, {})
    if not values:
        raise Unauthorized(
            "Send the access token, or your own Gemini keys, in the x-goog-api-key or Authorization: Bearer header.",
            headers=NO_STORE,
        )
    if len(values) > MAX_KEYS:
        raise BadRequest(f"Too many keys: at most {MAX_KEYS}.", headers=NO_STORE)
    settings: Settings = request.app.state.settings
    try:
        creds = await credentials.resolve(settings, values)
    except ProxyError as exc:
        exc.headers.update(NO_STORE)
        raise
    if not creds.pooled and request.query_params.get("as") == "token":
        raise Unauthorized("Invalid access token.", headers=NO_STORE)
    return creds.keys, "pool" if creds.pooled else "own"


async def data(request: Request) -> Response:
    """The masked keys, this container's cooldowns for them, and whether fleet figures exist."""
    keys, whose = await caller_keys(request)
    masked = [mask(key) for key in keys]
    cooling = cooldown_of(request.scope).snapshot(keys)  # by the keys, not their masks
    settings: Settings = request.app.state.settings
    body = {
        "scope": whose,
        "keys": masked,
        "cooldowns": cooling,
        "fleet": {"enabled": settings.fleet_metrics},
        "note": "Cooldowns are this container's memory only; other instances keep their own.",
    }
    return json_response(body, headers=NO_STORE)


async def metrics_readout(request: Request) -> Response:
    """Calls and 429s per masked key over the last hour and day, from CloudWatch."""
    keys, _ = await caller_keys(request)
    answer = await fleet.figures(request.app.state.settings, [mask(key) for key in keys])
    return json_response(answer, headers=NO_STORE)


async def page(request: Request) -> Response:
    return page_response()
