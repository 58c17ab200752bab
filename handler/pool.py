"""The server-side key pool and the access tokens that unlock it.

Read from `GEMINI_API_KEYS` and `ACCESS_TOKENS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings


class PoolUnavailable(Exception):
    """The configured pool source cannot be read; the message never holds secret content."""


@dataclass(frozen=True)
class KeyPool:
    keys: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()


async def load_pool(settings: Settings) -> KeyPool:
    return KeyPool(settings.api_keys, settings.access_tokens)
