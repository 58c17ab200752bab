"""Which Gemini keys a request may use, and in what order to try them.

A credential comes from the first of these places that holds one: the
`x-goog-api-key` header, the `key` query parameter, `Authorization: Bearer`, or
`x-api-key`. Each may be a comma-separated list. A value that matches an access token
unlocks the server-side pool; otherwise, when client keys are allowed, the values are
the caller's own Gemini keys. Keys are never logged or returned unmasked: use `mask`.
"""

from __future__ import annotations

import hmac
import random
import time
from typing import Iterable, Mapping

from .config import Settings, split_list
from .pool import KeyPool, PoolUnavailable, load_pool

ACCEPTED = "the x-goog-api-key header, the key query parameter, Authorization: Bearer, or x-api-key"


class AuthError(Exception):
    """No usable credential; `status` is 401, or 503 when the server pool cannot be read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def mask(key: str) -> str:
    """`AIzaSy...x9Qk` for real keys; short values show only their last 2 characters."""
    if len(key) >= 16:
        return f"{key[:6]}...{key[-4:]}"
    return f"...{key[-2:]}" if len(key) > 2 else "..."


def credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, ...]:
    """The comma-separated values of the first credential place that is filled."""
    value = headers.get("x-goog-api-key") or query.get("key")
    if not value:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        value = token if scheme.lower() == "bearer" else ""
    if not value:
        value = headers.get("x-api-key", "")
    return split_list(value)


def _is_token(values: Iterable[str], tokens: Iterable[str]) -> bool:
    found = False
    for value in values:
        for token in tokens:
            # Constant time per comparison, and every pair compared, so timing says nothing.
            found |= hmac.compare_digest(value.encode(), token.encode())
    return found


async def resolve(settings: Settings, values: tuple[str, ...]) -> tuple[str, ...]:
    """The Gemini keys this request may use, or AuthError."""
    if not values:
        raise AuthError(401, f"No API key or access token. Send one in {ACCEPTED}.")
    try:
        pool: KeyPool | None = await load_pool(settings)
    except PoolUnavailable:
        pool = None
    if pool is not None and pool.tokens and _is_token(values, pool.tokens):
        if not pool.keys:
            raise AuthError(503, "The server-side key pool is empty.")
        return pool.keys
    if pool is None and settings.keys_secret_arn and not settings.allow_client_keys:
        raise AuthError(503, "The server-side key pool cannot be read right now. Try again later.")
    if settings.allow_client_keys:
        return values
    raise AuthError(401, "Invalid access token. This proxy does not accept callers' own Gemini keys.")


# Keys that recently failed with a rate limit, and until when (time.monotonic()).
# Memory only, per container: a cold start forgets it, as it should.
_cooling: dict[str, float] = {}


def cool_down(key: str, seconds: float) -> None:
    _cooling[key] = time.monotonic() + seconds


def order(keys: tuple[str, ...]) -> list[str]:
    """All keys in uniformly random order, keys still cooling down moved to the end."""
    picked = random.sample(keys, len(keys)) if len(keys) > 1 else list(keys)
    if _cooling:
        now = time.monotonic()
        for key, until in list(_cooling.items()):
            if until <= now:
                del _cooling[key]
        if _cooling:
            picked.sort(key=lambda k: _cooling.get(k, 0.0))
    return picked
