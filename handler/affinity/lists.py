"""A list of resources (`GET /v1beta/files`, `cachedContents`, `batches`, ...) over several
keys: one list, as a caller with several keys expects.

Each key's project has its own list. The proxy asks each of the request's keys (eight at
a time, at most `MAX_KEYS`), tags each answer with its key (resources.py) and joins the
lists. Paging: the `nextPageToken` it returns holds each key's own token, keyed by key
tag (base64url JSON: no key in it); a key without a next page drops out. A page token
the proxy did not make goes to one key as usual. Keys that fail are left out of the
list (the log notes them); when every key fails, the first failure is the answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Scope

from ..errors import json_response
from ..keys.credentials import Credentials, query_map, without_params
from ..keys.failover import Outcome, send
from ..keys.masking import mask
from ..logs import note
from ..state import cooldown_of, settings_of
from ..upstream import MAX_ANSWER_BYTES, UpstreamError
from . import binding as affinity
from . import resources

LIST_PATH = re.compile(r"^/v1[a-z0-9]*/(?:files|cachedContents|batches|fileSearchStores|tunedModels)$")
MAX_KEYS = 32
CONCURRENCY = 8
TOKEN_PREFIX = "gep."


def _decode(token: str, tags: dict[str, str]) -> dict[str, str] | None:
    """key -> its page token, from a token this proxy made; None when it made none."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :] + "=="))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    return {tags[t]: v for t, v in data.items() if t in tags and isinstance(v, str)}


def _encode(tokens: dict[str, str]) -> str:
    raw = json.dumps({affinity.tag(k): v for k, v in tokens.items()}, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def pages(method: str, path: str, creds: Credentials, query_string: bytes) -> dict[str, str | None] | None:
    """key -> page token (None: the first page) when this call is a list to join; else None."""
    if method != "GET" or len(creds.keys) < 2 or not LIST_PATH.match(path):
        return None
    token = query_map(query_string).get("pageToken")
    if not token:
        return dict.fromkeys(creds.keys[:MAX_KEYS])
    decoded = _decode(token, affinity.tags_of(creds.keys))
    return dict(decoded) if decoded is not None else None


def _query(query_string: bytes, token: str | None) -> str:
    """The client's query for one key's page: its `key` and `pageToken` dropped however
    encoded (a token must never reach Google), that key's token added, encoded (it came
    back from the client inside the proxy's token: it cannot add parameters)."""
    query = without_params(query_string, (b"key", b"pageToken")).decode("latin-1")
    if token is not None:
        query += ("&" if query else "") + "pageToken=" + quote(token, safe="")
    return "?" + query if query else ""


async def _one(
    scope: Scope, path: str, query_string: bytes, key: str, token: str | None, creds: Credentials
) -> tuple[str, Outcome, dict[str, Any] | None]:
    one = Credentials((key,), creds.pooled)
    outcome = await send(
        settings_of(scope), cooldown_of(scope), "GET", path + _query(query_string, token), {}, None, one
    )
    if not outcome.ok or outcome.response is None:
        return key, outcome, None
    try:
        body = resources.tag_answer(await outcome.response.read(MAX_ANSWER_BYTES), affinity.tag(key), False)
        data = json.loads(body)
    except (UpstreamError, ValueError, RecursionError):
        return key, outcome, None
    return key, outcome, data if isinstance(data, dict) else None


async def joined(
    scope: Scope, path: str, query_string: bytes, wanted: dict[str, str | None], creds: Credentials
) -> Response | Outcome:
    """The joined list, or the first failure (an Outcome) when no key answered. A page
    token whose keys all left (or were never the caller's) is an empty last page."""
    if not wanted:
        return json_response({})
    gate = asyncio.Semaphore(CONCURRENCY)

    async def gated(key: str, token: str | None) -> tuple[str, Outcome, dict[str, Any] | None]:
        async with gate:
            return await _one(scope, path, query_string, key, token, creds)

    answers = await asyncio.gather(*(gated(k, t) for k, t in wanted.items()))
    merged: dict[str, list[Any]] = {}
    following: dict[str, str] = {}
    for key, _, data in answers:
        for name, value in (data or {}).items():
            if isinstance(value, list):
                merged.setdefault(name, []).extend(value)
        if data and isinstance(data.get("nextPageToken"), str) and data["nextPageToken"]:
            following[key] = data["nextPageToken"]
    failed = [(key, outcome) for key, outcome, data in answers if data is None]
    if len(failed) == len(answers):
        return failed[0][1]
    if failed:
        note(scope, list_failed=[mask(key) for key, _ in failed])
    body: dict[str, object] = dict(merged)
    if following:
        body["nextPageToken"] = _encode(following)
    return json_response(body, headers={"x-proxy-keys": str(len(answers) - len(failed))})
