"""Authenticated encryption from the standard library: encrypt-then-MAC with HMAC-SHA256.

Why not a library: the `cryptography` wheel alone would push the Lambda package past its
3 MB budget, and the stdlib has no AEAD cipher. So this builds a standard construction
from `hmac` and `hashlib`, and nothing clever:

- two keys derived from the secret by HMAC-SHA256 under distinct labels, one to encrypt
  and one to authenticate (a key is never used for both);
- a fresh random 16-byte nonce per message (`secrets.token_bytes`), so no keystream is
  ever reused (2**-64 collision odds after 2**32 messages);
- the keystream is HMAC-SHA256(enc_key, nonce || block counter), block by block: HMAC
  as a pseudo-random function in counter mode, XORed with the plaintext;
- the tag is HMAC-SHA256(mac_key, version || purpose || nonce || ciphertext), checked
  with a constant-time comparison before anything is decrypted. The purpose binds a
  sealed value to what it was made for (a compaction summary cannot pass as something
  else);
- a versioned format, `<prefix><base64url(version | nonce | ciphertext | tag)>`, so the
  construction can change later without misreading old values.

`unseal` raises `Unsealable` for anything it did not seal under one of the given secrets:
a wrong length, a bad tag, another version; it never returns unauthenticated bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

VERSION = b"\x01"
NONCE = 16
TAG = 32
BLOCK = 32


class Unsealable(ValueError):
    """Not a value sealed under these secrets (altered, truncated, or another secret)."""


def _keys(secret: bytes) -> tuple[bytes, bytes]:
    return (
        hmac.digest(secret, b"gemini-edge-proxy/seal/v1/encrypt", "sha256"),
        hmac.digest(secret, b"gemini-edge-proxy/seal/v1/authenticate", "sha256"),
    )


def _keystream_xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    stream = b"".join(
        hmac.digest(key, nonce + counter.to_bytes(8, "big"), "sha256") for counter in range(-(-len(data) // BLOCK))
    )
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[: len(data)], "big")).to_bytes(len(data), "big")


def _tag(key: bytes, purpose: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    return hmac.digest(key, VERSION + len(purpose).to_bytes(2, "big") + purpose + nonce + ciphertext, "sha256")


def seal(plaintext: bytes, secret: bytes, purpose: bytes, prefix: str) -> str:
    encrypt, authenticate = _keys(secret)
    nonce = secrets.token_bytes(NONCE)
    ciphertext = _keystream_xor(encrypt, nonce, plaintext)
    raw = VERSION + nonce + ciphertext + _tag(authenticate, purpose, nonce, ciphertext)
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unseal(sealed: str, candidates: list[bytes], purpose: bytes, prefix: str) -> bytes:
    """The plaintext, if one of `candidates` (secrets) sealed it for `purpose`."""
    if not sealed.startswith(prefix):
        raise Unsealable("not sealed by this proxy")
    body = sealed[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise Unsealable("not valid base64url") from None
    if len(raw) < 1 + NONCE + TAG or raw[:1] != VERSION:
        raise Unsealable("too short, or another version")
    nonce, ciphertext, tag = raw[1 : 1 + NONCE], raw[1 + NONCE : -TAG], raw[-TAG:]
    for secret in candidates:
        encrypt, authenticate = _keys(secret)
        if hmac.compare_digest(tag, _tag(authenticate, purpose, nonce, ciphertext)):
            return _keystream_xor(encrypt, nonce, ciphertext)
    raise Unsealable("the tag does not match")


def derive(material: str, label: bytes) -> bytes:
    """A 32-byte secret from configuration text (a key, a token, an operator's secret)."""
    return hmac.digest(label, material.encode(), hashlib.sha256)
