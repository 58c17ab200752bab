"""Where Gemini's thought signatures ride in the Responses API, and how they come back.

Gemini 3 refuses a request whose function calls of the current turn lack the
`thoughtSignature` Gemini put on them, and the Responses API has no field for it, so:

- a function call's signature rides in its `call_id` (`call_<hex>~<signature>`). Every
  Responses client sends a call back with the `call_id` it got (it must, to match the
  output), so the signature survives even when the client keeps no reasoning items, asks
  for no `include`, or drops fields it does not know (Codex and the Agents SDK parse items
  into fixed types). LiteLLM's gateway does the same for the same reason;
- a signature on a text or thought part (Gemini 3 signs the last part of an answer
  without calls) rides in a `reasoning` item's `encrypted_content`, when the client asks
  for `include: ["reasoning.encrypted_content"]` (as Codex does), as
  `gemini-sig:<signature>`. The prefix marks it as ours: `encrypted_content` from an
  OpenAI model earlier in the same conversation (a user who switched models) is not sent
  to Gemini as a signature, which Gemini would refuse.

Either way the signature's bytes come back to Gemini unchanged.
"""

from __future__ import annotations

import os

CALL_PREFIX = "call_"
CALL_SEPARATOR = "~"
ENCRYPTED_PREFIX = "gemini-sig:"


def new_call_id(signature: str | None) -> str:
    base = CALL_PREFIX + os.urandom(12).hex()
    return f"{base}{CALL_SEPARATOR}{signature}" if signature else base


def of_call_id(call_id: str) -> str | None:
    """The signature a call_id of ours carries, or None."""
    if not call_id.startswith(CALL_PREFIX):
        return None
    _, _, signature = call_id.partition(CALL_SEPARATOR)
    return signature or None


def encrypted(signature: str) -> str:
    return ENCRYPTED_PREFIX + signature


def of_encrypted(content: object) -> str | None:
    """The signature in a reasoning item's encrypted_content of ours, or None."""
    if isinstance(content, str) and content.startswith(ENCRYPTED_PREFIX):
        return content[len(ENCRYPTED_PREFIX) :] or None
    return None
