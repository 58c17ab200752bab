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

The cooldown view reads `app.state.cooldown.snapshot()` when the app has that object,
and today's per-key table in `keys.py` otherwise (`cooldowns`): one adapter, so the
switch to the new cooldown object needs no change here.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import fleet
from . import keys as keyring
from .config import Settings
from .errors import gemini_error, json_response
from .status_page import page_response
from .verify import MAX_KEYS

NO_STORE = {"cache-control": "no-store"}
LEGACY_REASON = "failed recently (rate limit, invalid or forbidden)"


def cooldowns(state: Any) -> list[dict]:
    """This container's cooling keys: `[{"key": masked, "model", "seconds_left", "reason"}]`."""
    cooldown = getattr(state, "cooldown", None)
    if cooldown is not None and hasattr(cooldown, "snapshot"):
        return [dict(entry) for entry in cooldown.snapshot()]
    now = time.monotonic()
    return [
        {"key": keyring.mask(key), "model": None, "seconds_left": round(until - now, 1), "reason": LEGACY_REASON}
        for key, until in list(keyring._cooling.items())
        if until > now
    ]


async def caller_keys(request: Request) -> tuple[tuple[str, ...], str] | Response:
    """The keys this caller may look at and whose they are ("pool" or "own"), or the refusal."""
    if "key" in request.query_params:
        return gemini_error(400, "Send the access token or keys in a header here (x-goog-api-key or "
                                 "Authorization: Bearer), never in the URL.", NO_STORE)
    values = keyring.credentials(request.headers, {})
    if not values:
        return gemini_error(401, "Send the access token, or your own Gemini keys, in the x-goog-api-key "
                                 "or Authorization: Bearer header.", NO_STORE)
    if len(values) > MAX_KEYS:
        return gemini_error(400, f"Too many keys: at most {MAX_KEYS}.", NO_STORE)
    settings: Settings = request.app.state.settings
    try:
        keys = await keyring.resolve(settings, values)
    except keyring.AuthError as exc:
        return gemini_error(exc.status, exc.message, NO_STORE)
    whose = "own" if keys == values else "pool"  # resolve hands back the values themselves for own keys
    if whose == "own" and request.query_params.get("as") == "token":
        return gemini_error(401, "Invalid access token.", NO_STORE)
    return keys, whose


async def data(request: Request) -> Response:
    """The masked keys, this container's cooldowns for them, and whether fleet figures exist."""
    found = await caller_keys(request)
    if isinstance(found, Response):
        return found
    keys, whose = found
    masked = [keyring.mask(key) for key in keys]
    visible = set(masked)
    cooling = [entry for entry in cooldowns(request.app.state) if entry.get("key") in visible]
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
    found = await caller_keys(request)
    if isinstance(found, Response):
        return found
    keys, _ = found
    answer = await fleet.figures(request.app.state.settings, [keyring.mask(key) for key in keys])
    return json_response(answer, headers=NO_STORE)


def page(request: Request) -> Response:
    return page_response()


routes: list[BaseRoute] = [
    Route("/status", page, methods=["GET"]),
    Route("/status/data", data, methods=["GET"]),
    Route("/status/metrics", metrics_readout, methods=["GET"]),
]
