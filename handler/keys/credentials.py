"""Which Gemini keys a request may use.

A credential comes from the first of these places that holds one: the
`x-goog-api-key` header, the `key` query parameter (also when its name is
percent-encoded), `Authorization: Bearer`, or `x-api-key`. Each may be a
comma-separated list. A value that matches an access token unlocks the server-side
pool; otherwise, when client keys are allowed (decision 14), the values are the
caller's own Gemini keys. No key format is assumed (Google's keys start with `AIza` or,
since 2026, `AQ.`); a value longer than `MAX_KEY_LENGTH` or with characters no header
may carry is refused. Keys are never logged or returned unmasked (`masking.mask`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_to_bytes

from ..config import Settings, split_list
from ..errors import Unauthorized, Unavailable
from .pool import KeyPool, PoolUnavailable, header_safe, load_pool

ACCEPTED = "the x-goog-api-key header, the key query parameter, Authorization: Bearer, or x-api-key"
MAX_KEY_LENGTH = 256  # real keys are about 40 characters; a longer value is not a key
MAX_VALUES = 256  # comma-separated values in one credential


@dataclass(frozen=True)
class Credentials:
    """The keys a request may use; `pooled` when they are the server's own pool; `bound`
    when affinity narrowed them to the owner of a resource the call names (a 403 or 404
    is then about the resource, not the key: see failover); `session` is the caller's
    session identity, which orders the keys (keys/session.py)."""

    keys: tuple[str, ...]
    pooled: bool = False
    bound: bool = False
    session: str | None = None


def query_map(query_string: bytes) -> dict[str, str]:
    """Query parameters with names and values percent-decoded (`?%6Bey=` is `key`)."""
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def without_params(query_string: bytes, names: Iterable[bytes] = (b"key",)) -> bytes:
    """The raw query, byte for byte, less the parameters called `names` however their
    names are percent- or plus-encoded (`?%6Bey=` is `key`, as `query_map` reads it)."""
    wanted = frozenset(names)

    def named(pair: bytes) -> bool:
        name = pair.split(b"=", 1)[0]
        return name in wanted or (len(name) <= 32 and unquote_to_bytes(name.replace(b"+", b" ")) in wanted)

    return b"&".join(p for p in query_string.split(b"&") if p and not named(p))


def credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, ...]:
    """The comma-separated values of the first credential place that is filled."""
    value = headers.get("x-goog-api-key") or query.get("key")
    if not value:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        value = token.strip() if scheme.lower() == "bearer" else ""
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


async def resolve(settings: Settings, values: tuple[str, ...]) -> Credentials:
    """The keys this request may use, or Unauthorized / Unavailable.

    When the pool's secret has never been readable in this container, its access tokens
    are unknown, so any value could be one: nothing is forwarded then (a 503), because
    an access token must never reach Google as if it were a key, and no key format
    tells a key from a token.
    """
    if not values:
        raise Unauthorized(f"No API key or access token. Send one in {ACCEPTED}.")
    if len(values) > MAX_VALUES:
        raise Unauthorized(f"Too many comma-separated credentials: at most {MAX_VALUES}.")
    if not all(header_safe(v) and len(v) <= MAX_KEY_LENGTH for v in values):
        raise Unauthorized("The credential is longer than any Gemini key or holds characters that no key has.")
    try:
        pool: KeyPool = await load_pool(settings)
    except PoolUnavailable:
        raise Unavailable("The server-side key pool cannot be read right now. Try again later.") from None
    if pool.tokens and _is_token(values, pool.tokens):
        if not pool.keys:
            raise Unavailable("The server-side key pool is empty.")
        return Credentials(pool.keys, pooled=True)
    if settings.allow_client_keys:
        return Credentials(values)
    raise Unauthorized("Invalid access token. This proxy does not accept callers' own Gemini keys.")


async def from_request(settings: Settings, headers: Mapping[str, str], query_string: bytes) -> Credentials:
    return await resolve(settings, credentials(headers, query_map(query_string)))
