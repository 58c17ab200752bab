"""Which key serves a call that names a per-project resource, from the request alone.

Files, cached contents, batches, operations, file search stores, tuned models,
interactions and stored voices (voices.py) belong to the Google Cloud project of the key
that created them; another
project's key gets 403 or 404. The proxy keeps no table of them (see docs/affinity.md):

- every resource name it hands back carries a *key tag*: the upstream id with
  `TAG_LENGTH` characters appended, `tag(key)`, an HMAC of a constant under the key. It
  tells nothing about the key, and on the way in it only selects among the keys the
  request may use anyway, so no tag can reach another key;
- on the way in, a tagged name is stripped back to Google's name and the call goes to
  the key whose tag it carries, on every container, cold or warm;
- a name without a (known) tag, created elsewhere, is looked for among the request's
  keys: metadata GETs (no quota), in rendezvous order (`rendezvous`), a few at once, the
  answer kept in a bounded per-container cache (`Owners`).

Translated routes call `for_body` on the Gemini body they built; `key_for` answers for
one name.

An id from a body (`previous_interaction_id`) is any JSON string: before it goes into
the lookup's path it is percent-encoded as one segment (`abc?alt=sse` stays an id,
`../../v1beta/files` cannot climb), and one that is `.`, `..` or empty is a 400.
Ids from a path are already encoded, and native.upstream_path refused dot segments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.types import Scope

from .. import upstream
from ..config import Settings
from ..errors import BadRequest, NotFound, Unavailable
from ..keys.credentials import Credentials
from ..keys.rendezvous import rendezvous
from ..upstream import UpstreamError
from . import voices

TAG_LENGTH = 8  # lower-case base32: 40 bits, so keys of one pool do not share a tag
_CONTEXT = b"gemini-edge-proxy/affinity/v1"
DISCOVERY_CONCURRENCY = 8
DISCOVERY_TIMEOUT = 10.0
MAX_UNKNOWN = 4  # untagged names looked for in one request...
MAX_ASKED = 64  # ...each on at most this many keys (its first in rendezvous order)
MAX_REFS = 5_000  # resource names in one call (Gemini takes up to 3,600 images in one prompt)
MAX_OWNERS = 4096  # names whose owner this container found by asking
MAX_TAGS = 4096  # keys whose tag this container computed

# A resource name: group 2 is the id that carries the tag (the first per-project segment:
# a model's operations are per project, the model is not).
CORE = r"((?:files|cachedContents|batches|tunedModels|fileSearchStores|generatedFiles|corpora)/|models/[A-Za-z0-9._-]+/operations/|voices/(?=voice_))([A-Za-z0-9_-]+)"
NAME = re.compile(CORE)
PATH_NAME = re.compile(r"(?<=/)" + CORE)
# In a body only a whole JSON string (`"cachedContents/x"`) or a URI path (`.../v1beta/files/x`)
# is a name: a prompt that mentions "my files/notes" is not.
# (The quote or version is matched, not looked behind for: many times faster.)
BODY_NAME = re.compile(rb'(?:"|/v1beta/|/v1/|/v1alpha/)' + CORE.encode() + rb'(?=["/:?])')
# What a request body may name: one fast scan each before any regex (cheap on a body of
# several MB: docs/speed.md).
MARKERS = (b"files/", b"cachedContents/", b"fileSearchStores/")
PREVIOUS = re.compile(rb'("previous_interaction_id"\s*:\s*")([^"\\]+)(")')
INTERACTION_PATH = re.compile(r"(/interactions/)([^/:]+)")
PATH_HINT = re.compile(
    r"/(?:files|cachedContents|batches|tunedModels|fileSearchStores|generatedFiles|corpora|interactions|voices)/|/operations/"
)


@dataclass(frozen=True)
class Hints:
    """Where a call may name resources (most calls name none: cheap tests first)."""

    path: bool
    names: bool  # the body may hold resource names
    previous: bool  # the body may hold a previous_interaction_id
    voices: bool = False  # the body may name a stored voice (voices.py)

    @classmethod
    def of(cls, path: str, body: bytes | None) -> Hints:
        body = body or b""
        names = any(m in body for m in MARKERS)
        return cls(PATH_HINT.search(path) is not None, names, b"previous_interaction_id" in body, voices.MARKER in body)

    def __bool__(self) -> bool:
        return self.path or self.names or self.previous or self.voices


def names_resources(path: str, body: object) -> bool:
    """Whether a call may name per-project resources (in its path or a bytes body), so that
    Gemini's 403 without a reason is about one of them, not about the key."""
    return bool(Hints.of(path, body if isinstance(body, bytes) else None))


@dataclass(frozen=True)
class Ref:
    """One resource name in a request: as sent (`given`), as Google knows it, its owner."""

    given: str
    upstream: str
    key: str | None


# Tags -------------------------------------------------------------------------------------

_tags: OrderedDict[str, str] = OrderedDict()


def tag(key: str) -> str:
    """The key's tag: a keyed hash (the key is the HMAC key), so it reveals nothing."""
    found = _tags.get(key)
    if found is None:
        digest = hmac.new(key.encode(), _CONTEXT, hashlib.sha256).digest()
        found = base64.b32encode(digest).decode()[:TAG_LENGTH].lower()
        _tags[key] = found
        if len(_tags) > MAX_TAGS:
            _tags.popitem(last=False)
    return found


def tags_of(keys: Iterable[str]) -> dict[str, str]:
    """tag -> key for the request's keys."""
    return {tag(key): key for key in keys}


def untag(name: str, tags: dict[str, str]) -> tuple[str, str | None]:
    """(Google's id, owning key) for an id as sent; (id, None) when it carries no tag of these keys."""
    if len(name) > TAG_LENGTH:
        key = tags.get(name[-TAG_LENGTH:])
        if key is not None:
            return name[:-TAG_LENGTH], key
    return name, None


def key_for(name: str, creds: Credentials) -> str | None:
    """The key among `creds` whose tag a resource name (`files/abc...`, a Files API URI, an
    interaction id) carries, or None: no tag of these keys (use `for_body` to look it up)."""
    match = NAME.search(name)
    found = match.group(2) if match else name.rsplit("/", 1)[-1]
    return untag(found, tags_of(creds.keys))[1]


# Owners found by asking ---------------------------------------------------------------------


class Owners:
    """Per-container memory of which key owns an untagged name (bounded, least recently used
    first out). An entry is used only when its key is one the request may use."""

    def __init__(self, size: int = MAX_OWNERS) -> None:
        self.size = size
        self._owners: OrderedDict[str, str] = OrderedDict()

    def get(self, name: str, keys: tuple[str, ...]) -> str | None:
        key = self._owners.get(name)
        if key is None or key not in keys:
            return None
        self._owners.move_to_end(name)
        return key

    def put(self, name: str, key: str) -> None:
        self._owners[name] = key
        self._owners.move_to_end(name)
        if len(self._owners) > self.size:
            self._owners.popitem(last=False)


def owners_of(scope: Scope) -> Owners:
    state = scope["app"].state
    owners = getattr(state, "owners", None)
    if owners is None:
        owners = state.owners = Owners()
    return owners


async def _owns(settings: Settings, name: str, key: str) -> bool | None:
    """Whether `key`'s project has `name`: True, False (403/404), None (could not tell)."""
    prefix, _, ident = name.rpartition("/")
    if unquote(ident) in ("", ".", "..") or "/" in unquote(ident):  # never a path that climbs
        return False
    url = f"{settings.base_url}/v1beta/{prefix}/{ident}"
    try:
        response = await upstream.request(settings, "GET", url, {"x-goog-api-key": key}, timeout=DISCOVERY_TIMEOUT)
    except UpstreamError:
        return None
    response.close()
    if response.status < 300:
        return True
    return False if response.status in (400, 403, 404) else None


async def discover(settings: Settings, owners: Owners, name: str, keys: tuple[str, ...]) -> str:
    """The key that owns `name` among `keys`, asking Google (a few keys at once)."""
    known = owners.get(name, keys)
    if known is not None:
        return known
    unsure = 0
    order = rendezvous(name, keys)[:MAX_ASKED]
    for start in range(0, len(order), DISCOVERY_CONCURRENCY):
        batch = order[start : start + DISCOVERY_CONCURRENCY]
        answers = await asyncio.gather(*(_owns(settings, name, key) for key in batch))
        for key, owns in zip(batch, answers, strict=True):
            if owns:
                owners.put(name, key)
                return key
            unsure += owns is None
    if unsure:
        raise Unavailable(f"Could not find which key owns {name}: {unsure} key(s) could not be asked. Try again.")
    asked = "any key" if len(order) == len(keys) else f"the first {len(order)} keys"
    raise NotFound(
        f"{name} was not found with {asked} of this request. It belongs to another key's project "
        "(a key that left the pool, or another caller's key), or it does not exist."
    )


# Binding a request to its owner -------------------------------------------------------------


def _refs(path: str, body: bytes, hints: Hints, tags: dict[str, str]) -> list[Ref]:
    refs: list[Ref] = []
    for match in PATH_NAME.finditer(path):
        refs.append(_ref(match.group(1), match.group(2), tags))
    if (interaction := INTERACTION_PATH.search(path)) is not None:
        refs.append(_ref("interactions/", interaction.group(2), tags))
    if hints.names:
        for found in BODY_NAME.finditer(body):
            refs.append(_ref(found.group(1).decode(), found.group(2).decode(), tags))
            _bounded(refs)
    if hints.previous:
        for found in PREVIOUS.finditer(body):
            refs.append(_ref("interactions/", segment(found.group(2).decode("utf-8", "replace")), tags))
            _bounded(refs)
    if hints.voices:
        refs += [_ref("voices/", given, tags) for given in voices.ids(body)]
        _bounded(refs)
    return refs


def _bounded(refs: list[Ref]) -> None:
    """BadRequest past MAX_REFS names: each costs a few microseconds on the loop (found,
    untagged, replaced), and an 8 MB body can name 400,000 (2 s)."""
    if len(refs) > MAX_REFS:
        raise BadRequest(f"This call names more than {MAX_REFS} resources (files, cached contents, interactions).")


def segment(given: str) -> str:
    """An id from a body as one encoded path segment; BadRequest for one that cannot be."""
    if given in ("", ".", ".."):
        raise BadRequest(f"'{given}' is not a resource id.")
    return quote(given, safe="")


def _ref(prefix: str, given: str, tags: dict[str, str]) -> Ref:
    upstream_id, key = untag(given, tags)
    return Ref(prefix + given, prefix + upstream_id, key)


def _plain(given: bytes, tags: dict[str, str]) -> bytes:
    return untag(given.decode(), tags)[0].encode()


def replace_id(match: re.Match[bytes], new: bytes) -> bytes:
    """A BODY_NAME match with its id (group 2) replaced."""
    return match.group(0)[: match.start(2) - match.start()] + new


def strip_body(body: bytes, tags: dict[str, str], hints: Hints) -> bytes:
    if hints.names:
        body = BODY_NAME.sub(lambda m: replace_id(m, _plain(m.group(2), tags)), body)
    if hints.previous:
        body = PREVIOUS.sub(lambda m: m.group(1) + _plain(m.group(2), tags) + m.group(3), body)
    if hints.voices:
        body = voices.replace(body, lambda given: _plain(given, tags))
    return body


def strip_path(path: str, tags: dict[str, str]) -> str:
    path = PATH_NAME.sub(lambda m: m.group(1) + untag(m.group(2), tags)[0], path)
    return INTERACTION_PATH.sub(lambda m: m.group(1) + untag(m.group(2), tags)[0], path)


@dataclass
class Bound:
    """A call with its resource names made Google's and its keys narrowed to their owner."""

    path: str
    body: bytes | None
    creds: Credentials
    resources: bool = False  # it may name per-project resources (`Hints`; failover.send's `resources`)


async def bind(scope: Scope, creds: Credentials, path: str, body: bytes | None, creating: bool = False) -> Bound:
    """Resolve every resource name in the path and body; raise a clear 400/404 when they
    belong to different keys or to none of the request's keys.

    `creating`: the body names the resource the call creates (a file upload that names its
    file), which goes to the name's first key in rendezvous order, where a later call
    with the same keys looks first."""
    if creating:
        found = BODY_NAME.search(body) if body else None
        if found is None or len(creds.keys) == 1:
            return Bound(path, body, creds)
        first = rendezvous((found.group(1) + found.group(2)).decode(), creds.keys)[0]
        return Bound(path, body, Credentials((first,), creds.pooled, bound=True), resources=True)
    hints = Hints.of(path, body)
    if not hints:
        return Bound(path, body, creds)
    tags = tags_of(creds.keys)
    refs = _refs(path, body or b"", hints, tags)
    if not refs:  # (a name the scan did not take, a dot in its id: it may still be one)
        return Bound(path, body, creds, resources=True)
    owner = await _owner(scope, creds, refs)
    path = strip_path(path, tags)
    if body and any(ref.key for ref in refs):
        body = strip_body(body, tags, hints)
    if owner is None:
        return Bound(path, body, creds, resources=True)
    return Bound(path, body, Credentials((owner,), creds.pooled, bound=True), resources=True)


async def _owner(scope: Scope, creds: Credentials, refs: list[Ref]) -> str | None:
    owners = {ref.key for ref in refs if ref.key}
    unknown = sorted({ref.upstream for ref in refs if not ref.key})
    if unknown and len(creds.keys) == 1:
        owners.add(creds.keys[0])
    elif unknown:
        if len(unknown) > MAX_UNKNOWN:
            raise BadRequest(
                f"This call names {len(unknown)} resources that this proxy did not hand out; "
                f"it looks for at most {MAX_UNKNOWN} per call. Use the names the proxy returned."
            )
        settings = scope["app"].state.settings
        found = await asyncio.gather(*(discover(settings, owners_of(scope), name, creds.keys) for name in unknown))
        owners.update(found)
    if len(owners) > 1:
        names = ", ".join(sorted({ref.given for ref in refs}))[:300]
        raise BadRequest(f"These resources belong to different keys' projects and cannot be used in one call: {names}.")
    return owners.pop() if owners else None


async def for_body(scope: Scope, creds: Credentials, body: bytes) -> tuple[bytes, Credentials]:
    """For translated routes (OpenAI chat, Responses, Messages): the Gemini request body
    they built, with resource names made Google's, and the keys narrowed to the owner of
    the files, cached content or interaction it names. Call it right before the upstream call."""
    bound = await bind(scope, creds, "", body)
    return bound.body or body, bound.creds
