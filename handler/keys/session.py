"""Sticky sessions with no state: one conversation's calls go to one key while it is healthy.

Gemini's implicit prompt cache and Gemini 3's thought signatures live in one Google
Cloud project, so a conversation whose turns are spread over keys of several projects
loses its cache on every turn. When a request names its session, its keys are tried in
the rendezvous order of that name (`keys.rendezvous`, an HMAC of the name
under each key): every container computes the same order with nothing shared, the
session stays on its first key while that key is healthy, and failover moves on in the
same order (a cooling key still goes last, `Cooldown.order`). Without a session the
order stays random (load spread evenly).

A session is named by, first found first: Claude Code's `X-Claude-Code-Session-Id`
header, Codex's `session-id` header, then the body's `prompt_cache_key` (Responses,
chat), OpenAI chat's `user`, Anthropic's `metadata.user_id`. A native call that names a
cached content is already pinned to the key that owns it (affinity), so no header is
needed there. The name only orders keys the request may use anyway; it is never logged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .rendezvous import rendezvous

HEADERS = ("x-claude-code-session-id", "session-id")
FIELDS = ("prompt_cache_key", "user")
MAX_LENGTH = 512  # a longer name is cut: the order needs no more
MAX_ORDERS = 4096  # sessions whose order this container remembers

_orders: OrderedDict[tuple[str, tuple[str, ...]], list[str]] = OrderedDict()


def identity(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The request's session name, or None."""
    for name in HEADERS:
        value = headers.get(name)
        if value:
            return value[:MAX_LENGTH]
    for name in FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value:
            return value[:MAX_LENGTH]
    metadata = body.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    return user[:MAX_LENGTH] if isinstance(user, str) and user else None


def order(session: str, keys: tuple[str, ...]) -> list[str]:
    """The session's rendezvous order of `keys` (a new list). A session sends many
    requests, so the order is remembered per container (bounded, least recently used
    out): the hashes are computed on a session's first request only."""
    ident = (session, keys)
    found = _orders.get(ident)
    if found is None:
        found = _orders[ident] = rendezvous(session, keys)
        if len(_orders) > MAX_ORDERS:
            _orders.popitem(last=False)
    else:
        _orders.move_to_end(ident)
    return list(found)
