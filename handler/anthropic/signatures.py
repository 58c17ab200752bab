"""Gemini 3 thought signatures through Anthropic clients, byte for byte.

Gemini 3 signs the first function call of each step (`thoughtSignature` on the
functionCall part) and refuses the next request with 400 ("Function call is missing a
thought_signature") if that call comes back without it. Two carriers:

- A function call's signature rides in its **tool_use id** (`toolu_gs...`). The id is
  the one thing every Anthropic client must send back unchanged, since its tool_result
  names it; thinking blocks are not: Claude Code drops them after `/compact`, when
  thinking is off or when the model changes, and other clients never keep them. A
  signature in standard base64 (what Gemini sends) is written with `-`/`_` for `+`/`/`
  and without padding (tool ids are `[A-Za-z0-9_-]`), which restores exactly; any
  other text is written as hex. Ids get long (a signature is a few hundred bytes);
  clients store them as opaque strings.
- A thought part's own signature is the **thinking block's `signature`**, verbatim.
  A thinking block must have a non-empty signature, so one from an unsigned thought
  part carries `UNSIGNED`, which is never sent to Gemini.

Signatures on plain text parts are dropped: Gemini does not validate them (Google:
"recommended, not required"), and Anthropic text blocks have nowhere to carry them.
"""

from __future__ import annotations

import os
import re

UNSIGNED = "gemini-edge-proxy:unsigned-thought"
SIGNED_PREFIX = "toolu_gs"
NONCE_HEX = 16
_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TO_ID = str.maketrans("+/", "-_")
_FROM_ID = str.maketrans("-_", "+/")


def tool_use_id(signature: str | None) -> str:
    """A fresh tool_use id, carrying `signature` when Gemini gave one."""
    nonce = os.urandom(NONCE_HEX // 2).hex()
    if not signature:
        return "toolu_" + nonce + os.urandom(4).hex()
    if len(signature) % 4 == 0 and _STANDARD_B64.fullmatch(signature):
        return SIGNED_PREFIX + nonce + "b" + signature.rstrip("=").translate(_TO_ID)
    return SIGNED_PREFIX + nonce + "h" + signature.encode().hex()


def signature_of(tool_id: object) -> str | None:
    """The signature a tool_use id carries, or None (an id made elsewhere)."""
    if not isinstance(tool_id, str) or not tool_id.startswith(SIGNED_PREFIX):
        return None
    head = len(SIGNED_PREFIX) + NONCE_HEX
    marker, payload = tool_id[head : head + 1], tool_id[head + 1 :]
    if not payload:
        return None
    if marker == "b":
        text = payload.translate(_FROM_ID)
        return text + "=" * (-len(text) % 4)
    if marker == "h":
        try:
            return bytes.fromhex(payload).decode()
        except ValueError:
            return None
    return None


def thinking_signature(signature: str | None) -> str:
    return signature or UNSIGNED


def gemini_signature(signature: object) -> str | None:
    """A thinking block's signature as Gemini's thoughtSignature (None if ours or absent)."""
    return signature if isinstance(signature, str) and signature and signature != UNSIGNED else None
