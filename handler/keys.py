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
from .pool import KeyPool, PoolUnavailable, header_safe, load_pool

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


def looks_like_gemini_key(value: str) -> bool:
    """Gemini API keys start with `AIza`; access tokens chosen by operators need not."""
    return value.startswith("AIza")


async def resolve(settings: Settings, values: tuple[str, ...]) -> tuple[str, ...]:
    """The Gemini keys this request may use, or AuthError.

    When the pool's secret has never been readable, its access tokens are unknown, so a
    value could be one of them: it is then forwarded as the caller's own key only if it
    looks like a Gemini key, and never when it is one of `ACCESS_TOKENS`. An access token
    must never reach Google as if it were a key.
    """
    if not values:
        raise AuthError(401, f"No API key or access token. Send one in {ACCEPTED}.")
    if not all(header_safe(v) for v in values):
        # A `?key=` can carry a decoded newline; it must not reach a header.
        raise AuthError(401, "The credential holds characters that no Gemini key or access token has.")
    try:
        pool: KeyPool = await load_pool(settings)
    except PoolUnavailable:
        if (
            settings.allow_client_keys
            and all(looks_like_gemini_key(v) for v in values)
            and not _is_token(values, settings.access_tokens)
        ):
            return values
        raise AuthError(503, "The server-side key pool cannot be read right now. Try again later.") from None
    if pool.tokens and _is_token(values, pool.tokens):
        if not pool.keys:
            raise AuthError(503, "The server-side key pool is empty.")
        return pool.keys
    if settings.allow_client_keys:
        return values
    raise AuthError(401, "Invalid access token. This proxy does not accept callers' own Gemini keys.")


# Keys that recently failed (rate limit, invalid, forbidden), and until when
# (time.monotonic()). Memory only, per container: a cold start forgets it, as it should.
# They are only moved to the end of the order, never skipped.
_cooling: dict[str, float] = {}
MAX_COOLING = 10_000  # callers' own keys land here too: bound the memory


def cool_down(key: str, seconds: float) -> None:
    until = time.monotonic() + seconds
    if key not in _cooling and len(_cooling) >= MAX_COOLING:
        _forget_expired(time.monotonic())
        if len(_cooling) >= MAX_COOLING:
            return
    _cooling[key] = max(until, _cooling.get(key, 0.0))


def _forget_expired(now: float) -> None:
    for key, until in list(_cooling.items()):
        if until <= now:
            del _cooling[key]


def order(keys: tuple[str, ...]) -> list[str]:
    """All keys in uniformly random order, keys still cooling down moved to the end
    (soonest back first). The sort is stable, so the keys that do not cool down keep
    their uniformly random order."""
    picked = random.sample(keys, len(keys)) if len(keys) > 1 else list(keys)
    if _cooling:
        _forget_expired(time.monotonic())
        if _cooling:
            picked.sort(key=lambda k: _cooling.get(k, 0.0))
    return picked
