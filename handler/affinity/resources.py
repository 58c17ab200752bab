"""The way out of affinity (see affinity.py): resource names in Gemini's answers get the
serving key's tag, and resumable uploads continue through the proxy without a key.

Only answers about resources are rewritten (files, cached contents, batches, operations,
file search stores, tuned models, interactions): never a generateContent answer or a
file's content. Interactions also carry their own id (`id`, `interaction_id`,
`previous_interaction_id`); a streamed interaction is rewritten event by event, so it
still streams.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

from . import voices
from .binding import BODY_NAME, TAG_LENGTH, replace_id

RESOURCE_PATH = re.compile(
    r"^/(?:upload/)?v1[a-z0-9]*/(?:"
    r"(?:files|cachedContents|batches|tunedModels|fileSearchStores|generatedFiles|corpora|interactions|voices)(?:$|[/:?])"
    r"|models/[^/:]+(?:/operations|:(?:batchGenerateContent|asyncBatchEmbedContent|predictLongRunning)))"
)
UPLOAD_TAG = "gep_tag"  # the query parameter of an upload URL that carries the key's tag
_TAG = re.compile(rf"[a-z2-7]{{{TAG_LENGTH}}}")
INTERACTION_FIELDS = ("id", "interaction_id", "previous_interaction_id")
_EVENT_END = re.compile(rb"\r?\n\r?\n")


def tags_answer(path: str) -> bool:
    """Whether the answer to `path` (Google's) names resources that must get a tag."""
    return RESOURCE_PATH.match(path) is not None and not path.endswith(":download")


def tag_names(body: bytes, tag: str) -> bytes:
    """Every resource name in a JSON answer, with the tag appended to its id."""
    suffix = tag.encode()
    return BODY_NAME.sub(lambda m: replace_id(m, m.group(2) + suffix), body)


def _interaction_ids(data: object) -> set[str]:
    """An interaction's own ids in an answer or an event (not those of its steps)."""
    if not isinstance(data, dict):
        return set()
    found = {data[f] for f in INTERACTION_FIELDS if isinstance(data.get(f), str)}
    inner = data.get("interaction")
    if isinstance(inner, dict) and isinstance(inner.get("id"), str):
        found.add(inner["id"])
    return found


def _tag_ids(body: bytes, ids: set[str], tag: str) -> bytes:
    for value in ids:
        quoted = json.dumps(value).encode()
        body = body.replace(quoted, quoted[:-1] + tag.encode() + b'"')
    return body


def tag_answer(body: bytes, tag: str, interactions: bool) -> bytes:
    """A whole JSON answer about resources, tagged."""
    body = voices.tag(tag_names(body, tag), tag)
    if interactions:
        try:
            body = _tag_ids(body, _interaction_ids(json.loads(body)), tag)
        except (ValueError, RecursionError):
            pass
    return body


def _tag_event(event: bytes, tag: str) -> bytes:
    event = tag_names(event, tag)
    if b'"interaction' not in event:
        return event
    ids: set[str] = set()
    for line in event.splitlines():
        if line.startswith(b"data:"):
            try:
                ids |= _interaction_ids(json.loads(line[5:]))
            except (ValueError, RecursionError):
                continue
    return _tag_ids(event, ids, tag)


async def tag_events(chunks: AsyncIterator[bytes], tag: str) -> AsyncIterator[bytes]:
    """A server-sent event stream, tagged event by event as each one completes."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        out = []
        while (end := _EVENT_END.search(pending)) is not None:
            out.append(_tag_event(pending[: end.end()], tag))
            pending = pending[end.end() :]
        if out:
            yield b"".join(out)
    if pending:
        yield _tag_event(pending, tag)


# Resumable uploads -------------------------------------------------------------------------


def is_continuation(path: str, query_string: bytes) -> bool:
    """A resumable upload's later step: its `upload_id` authorises it, as at Google."""
    return path.startswith("/upload/") and b"upload_id=" in query_string


def continuation_query(query_string: bytes) -> tuple[str, str | None]:
    """(the query for Google, the key tag the proxy put in the upload URL or None)."""
    kept: list[bytes] = []
    tag = None
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == UPLOAD_TAG.encode():
            tag = value.decode("latin-1") if _TAG.fullmatch(value.decode("latin-1")) else None
        elif pair and name != b"key":
            kept.append(pair)
    return ("?" + b"&".join(kept).decode("latin-1")) if kept else "", tag


def upload_url(value: bytes, google_base: bytes, own_base: bytes, tag: str) -> bytes:
    """Google's upload URL as one that continues through the proxy, carrying the key's tag
    so that the file named in the last step's answer gets it too."""
    if not value.startswith(google_base):
        return value
    joiner = b"&" if b"?" in value else b"?"
    return own_base + value[len(google_base) :] + joiner + f"{UPLOAD_TAG}={tag}".encode()
