"""Masking keys and access tokens: the one way a credential may appear in a log or an answer.

Decision 18: values of 16 characters or more show their first 6 and last 4 characters
(`AIzaSy...x9Qk`, `AQ.Ab1...x9Qk`: the same for every key format); shorter ones only
`...` and their last 2.
"""

from __future__ import annotations

from collections.abc import Iterable


def mask(key: str) -> str:
    if len(key) >= 16:
        return f"{key[:6]}...{key[-4:]}"
    return f"...{key[-2:]}" if len(key) > 2 else "..."


def mask_in(data: bytes, secrets: Iterable[str]) -> bytes:
    """`data` with every one of `secrets` replaced by its mask (Gemini quotes keys in
    some errors: "Consumer 'api_key:AIza...'")."""
    for secret in secrets:
        if secret and secret.encode() in data:
            data = data.replace(secret.encode(), mask(secret).encode())
    return data


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, mask(secret))
    return text
