"""Stateless compaction for Codex: the conversation summary sealed into the item itself.

Codex compacts a long session through the server: an `input` that ends in a
`compaction_trigger` item (remote compaction v2), or `POST /v1/responses/compact`
(v1). OpenAI answers with a `compaction` item whose `encrypted_content` only it can
read, and keeps nothing the client must name later. This proxy does the same without
storing anything: Gemini writes the summary (`PROMPT` after the conversation), and the
summary itself, sealed with authenticated encryption (translate/seal.py), is the
`encrypted_content`. A later request that carries the item gets it opened here and put
back into the context (`context`), on any container.

The secret (`secrets_for`), first found first:
- `COMPACTION_SECRET` (comma-separated: the first seals, every one opens, so it is
  rotated by putting the new secret first and dropping the old one later);
- with the server's pool: derived from its access tokens (or its keys when it has no
  tokens), so every container of one deployment shares it;
- with callers' own keys: derived from the caller's keys, so only a holder of one of
  them can open it.
Each value gives one candidate secret (at most `MAX_CANDIDATES` are tried); the item
is sealed under the first in sorted order.

A `compaction` item whose content does not carry this proxy's prefix (one OpenAI made)
cannot be read: it is dropped and named in `x-proxy-dropped`. One with the prefix that
does not open (altered, cut, or sealed under a secret no longer configured) is a 400.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..keys.credentials import Credentials
from ..keys.pool import load_pool
from ..translate import seal

PREFIX = "gep-compaction-v1."
PURPOSE = b"responses/compaction"
LABEL = b"gemini-edge-proxy/compaction-secret/v1"
MAX_CANDIDATES = 8
TRIGGER = "compaction_trigger"
PROMPT = (
    "Stop here and write a hand-over note for whoever continues this work, since the "
    "conversation above will be replaced by your note. Keep every fact needed to go on: "
    "the user's goals and constraints, decisions taken and why, files and commands touched "
    "and their state, what was tried and failed, open questions, and the precise next "
    "steps. Be complete but concise; answer with the note only."
)
CONTEXT = "A summary of the earlier part of this conversation (it was compacted):\n\n"


async def secrets_for(settings: Settings, creds: Credentials) -> list[bytes]:
    """The candidate secrets for this request: the first seals, any opens."""
    material = [v.strip() for v in settings.compaction_secret.split(",") if v.strip()]
    if not material and creds.pooled:
        pool = await load_pool(settings)
        material = sorted(pool.tokens or pool.keys)
    elif not material:
        material = sorted(creds.keys)
    return [seal.derive(value, LABEL) for value in material[:MAX_CANDIDATES]]


def is_ours(content: Any) -> bool:
    return isinstance(content, str) and content.startswith(PREFIX)


def sealed(summary: str, candidates: list[bytes]) -> str:
    return seal.seal(summary.encode(), candidates[0], PURPOSE, PREFIX)


def unseal(content: Any, candidates: list[bytes], param: str) -> str:
    """The summary in a compaction item of ours, or a 400 that says why not."""
    try:
        return seal.unseal(str(content), candidates, PURPOSE, PREFIX).decode()
    except (seal.Unsealable, UnicodeDecodeError):
        raise BadRequest(
            f"{param} is a compaction item sealed by this proxy that cannot be opened: it was altered, or it was "
            "sealed under a secret this proxy no longer has (COMPACTION_SECRET, the access tokens or the keys "
            "changed). Start the session again from its messages.",
            param,
        ) from None


def context(summary: str) -> str:
    return CONTEXT + summary


def item(summary: str, candidates: list[bytes], item_id: str) -> dict[str, Any]:
    return {"id": item_id, "type": "compaction", "encrypted_content": sealed(summary, candidates)}
