"""Default models by family, resolved from the live model list instead of written in.

Google ships and retires Gemini models monthly, so a default that names a version rots.
Settings name families instead (`DEFAULT_MODEL=flash`, `claude-*=pro`, `TTS_MODEL=tts`),
and the proxy picks a family's model from the upstream's own list
(`GET /v1beta/models`, every page, read with the request's keys):

- a family's candidates are its models newest first (by version; Gemini 4's code names
  ranked by `CODENAMES`), stable ones before previews; `-lite`, `-tts`, `-image`,
  `-live`, audio and tool-specific variants belong to their own family, never to flash
  or pro;
- the list is cached per container for `MODEL_LIST_SECONDS` (a bounded time) and read
  again when a chosen model answers 404 (retired: it is skipped until the list is read
  again after that time);
- a model listed but not open to a key (403, or a 429 whose quota limit is 0: paid-tier
  models on a free key) is skipped for that key for `CLOSED_SECONDS`, and the request
  falls back to the next candidate (pro falls back to flash: "the best the key offers").

Resolution is synchronous inside the request translators (`model_for`), which read the
cached list through a per-request `Resolution` (a context variable); when no list is
cached yet it raises `NeedCatalog`, and `translate` reads the list and translates again
(the translators resolve the model before they fetch any media, so nothing is done
twice that costs). Once cached, a lookup is a dictionary read (bench/families.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import NamedTuple, TypeVar

from starlette.types import Scope

from ..config import Settings
from ..errors import ProxyError
from ..keys.cooldown import Cooldown
from ..keys.credentials import Credentials
from ..keys.failover import failure, outcome_headers, send
from ..keys.masking import mask
from ..state import settings_of
from ..upstream import MAX_ANSWER_BYTES, UpstreamError
from ..upstream.gemini_error import GeminiError

FAMILIES = ("flash", "pro", "flash-lite", "image", "tts", "embedding")
# Where a family with no model open to the key falls back, in order.
FALLBACK = {"pro": ("flash",), "flash": ("pro", "flash-lite"), "flash-lite": ("flash",)}
# Gemini 4 names its models after elements: which family each is, and its release rank
# (a table of facts about models Google shipped; an unknown code name is no family's).
CODENAMES = {"argon": ("pro", 1), "carbon": ("pro", 2), "hydrogen": ("flash", 3)}
VARIANTS = frozenset({"lite", "tts", "image", "live", "audio", "native", "computer", "robotics", "embedding"})
PREVIEW = frozenset({"preview", "exp", "experimental"})
PAGE_SIZE = 1000  # Gemini's largest page
MAX_PAGES = 20
CLOSED_SECONDS = 3600.0  # how long a key stays "not open" for a model
MAX_CLOSED = 4096  # entries kept in that memory (keys x models)
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


class NeedCatalog(Exception):
    """A family must be resolved and no model list is cached yet."""


class Listed(NamedTuple):
    """One model of the list, as a family member."""

    name: str
    family: str
    rank: tuple[int, int, int, int]  # stable first, then newest: sort descending


def _rank(name: str, tokens: list[str], codename_rank: int) -> tuple[int, int, int, int]:
    match = _VERSION.search(name)
    major, minor = (int(match[1]), int(match[2] or 0)) if match else (0, 0)
    stable = not any(t in PREVIEW or t.isdigit() for t in tokens)  # dated names are previews
    return (int(stable), major, minor, codename_rank)


def classify(name: str, methods: list[str] | None = None) -> Listed | None:
    """The family of a listed model name (`gemini-3.8-flash` -> flash), or None."""
    name = name.removeprefix("models/")
    if not name.startswith("gemini-"):
        return None
    tokens = name.split("-")[1:]
    if "embedding" in tokens:
        fits = methods is None or "embedContent" in methods
        return Listed(name, "embedding", _rank(name, tokens[1:], 0)) if fits else None
    if methods is not None and "generateContent" not in methods:
        return None
    if _VERSION.fullmatch(tokens[0]):
        tokens = tokens[1:]
    elif not name.startswith("gemini-nano-banana"):
        return None  # no version: an alias Google routes itself (`gemini-flash-latest`)
    if name.startswith("gemini-nano-banana"):
        family = "image"
    elif "tts" in tokens:
        family = "tts" if "lite" not in tokens else ""
    elif "image" in tokens:
        family = "image" if "lite" not in tokens else ""
    elif VARIANTS.intersection(tokens):
        family = "flash-lite" if tokens[:2] == ["flash", "lite"] and not VARIANTS.intersection(tokens[2:]) else ""
    elif tokens and tokens[0] in ("flash", "pro"):
        family = tokens[0]
    elif tokens and tokens[0] in CODENAMES:
        family = CODENAMES[tokens[0]][0]
    else:
        family = ""
    if not family:
        return None
    codename = CODENAMES.get(tokens[0], ("", 0))[1] if tokens else 0
    return Listed(name, family, _rank(name, tokens[1:], codename))


def candidates(listed: list[tuple[str, list[str] | None]], family: str) -> list[str]:
    """A family's models in the order they are tried: stable before preview, newest first."""
    members = [item for item in (classify(n, m) for n, m in listed) if item is not None and item.family == family]
    return [item.name for item in sorted(members, key=lambda item: item.rank, reverse=True)]


class Families:
    """The container's model list and what it learned about models and keys (plain
    classes here, not dataclasses: they load on a translated route's first call)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.ranked: dict[str, list[str]] = {}  # family -> candidates
        self.expires = 0.0
        self.closed: dict[tuple[str, str], float] = {}  # (key, model) -> until
        self.gone: dict[str, float] = {}  # retired model -> until
        self._lock: asyncio.Lock | None = None

    def fresh(self) -> bool:
        return bool(self.ranked) and self.clock() < self.expires

    def store(self, listed: list[tuple[str, list[str] | None]]) -> None:
        self.ranked = {family: candidates(listed, family) for family in FAMILIES}
        self.expires = self.clock() + self.ttl

    async def load(self, settings: Settings, creds: Credentials) -> None:
        """Read the list unless a fresh one is cached (one reader at a time). A failed
        read keeps a stale list if there is one, else raises the upstream's failure."""
        if self.fresh():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.fresh():
                return
            try:
                self.store(await read_list(settings, creds))
            except ProxyError:
                if not self.ranked:
                    raise
                self.expires = self.clock() + min(self.ttl, 60.0)  # stale, tried again soon

    def retire(self, model: str) -> None:
        """A chosen model answered 404: skip it, and read the list again next time."""
        self.gone[model] = self.clock() + self.ttl
        self.expires = 0.0

    def close(self, key: str, model: str) -> None:
        """`model` is listed but not open to `key` (paid tier only, say)."""
        now = self.clock()
        if len(self.closed) >= MAX_CLOSED:
            self.closed = {k: v for k, v in self.closed.items() if v > now}
            while len(self.closed) >= MAX_CLOSED:
                self.closed.pop(next(iter(self.closed)))
        self.closed[(key, model)] = now + CLOSED_SECONDS

    def usable(self, model: str, keys: tuple[str, ...]) -> bool:
        now = self.clock()
        if self.gone.get(model, 0.0) > now:
            return False
        return not keys or any(self.closed.get((key, model), 0.0) <= now for key in keys)

    def choose(self, family: str, keys: tuple[str, ...], skipped: frozenset[str] | set[str] = frozenset()) -> str:
        """The first candidate of `family` (then of its fallbacks) open to `keys`;
        `skipped`: models that already failed this request."""
        ranked = self.ranked.get(family)
        if ranked and not (self.gone or self.closed or skipped):  # nothing learned: the warm path
            return ranked[0]
        order = [family, *FALLBACK.get(family, ())]
        listed = [name for f in order for name in self.ranked.get(f, []) if name not in skipped]
        for name in listed:
            if self.usable(name, keys):
                return name
        for name in listed:  # every one closed to these keys: try the best anyway
            if self.gone.get(name, 0.0) <= self.clock():
                return name
        raise ProxyError(
            f"The Gemini model list has no {family} model; set a model name in the settings "
            "(DEFAULT_MODEL, MODEL_ALIASES, IMAGE_MODEL, TTS_MODEL).",
            status=503,
        )


async def read_list(settings: Settings, creds: Credentials) -> list[tuple[str, list[str] | None]]:
    """Every page of `GET /v1beta/models`: (name, supported methods). Tried with the
    request's keys in turn; no cooldown is fed (a list costs no generation quota)."""
    listed: list[tuple[str, list[str] | None]] = []
    token = ""
    for _ in range(MAX_PAGES):
        path = f"/v1beta/models?pageSize={PAGE_SIZE}" + (f"&pageToken={token}" if token else "")
        outcome = await send(settings, Cooldown(), "GET", path, {}, None, creds, model="")
        if not outcome.ok or outcome.response is None:  # the caller gets it as from a generate call
            raise failure(outcome, outcome_headers(outcome, mask(outcome.key)))
        try:
            page = json.loads(await outcome.response.read(MAX_ANSWER_BYTES))
        except (UpstreamError, ValueError, RecursionError):
            raise ProxyError("The Gemini API sent a model list of an unexpected shape.", status=502) from None
        models = page.get("models") if isinstance(page, dict) else None
        for model in models if isinstance(models, list) else []:
            if isinstance(model, dict) and isinstance(model.get("name"), str):
                methods = model.get("supportedGenerationMethods")
                listed.append((model["name"], methods if isinstance(methods, list) else None))
        following = page.get("nextPageToken") if isinstance(page, dict) else None
        if not isinstance(following, str) or not re.fullmatch(r"[\w.~-]{1,512}", following):
            break
        token = following
    return listed


def families_of(scope: Scope) -> Families:
    """The app's Families, made on first use (the app keeps it for its life)."""
    state = scope["app"].state
    families = getattr(state, "families", None)
    if families is None:
        families = state.families = Families(ttl=settings_of(scope).model_list_seconds)
    return families


class Resolution:
    """One request's view: families chosen for its keys, and which models it chose."""

    def __init__(self, families: Families, keys: tuple[str, ...]) -> None:
        self.families = families
        self.keys = keys
        self.chosen: dict[str, str] = {}  # model -> family
        self.skipped: set[str] = set()  # models that failed this request
        self.provisional = False  # checking the request before the list is read (`translate`)

    def model_for(self, family: str) -> str:
        if not self.families.fresh():
            if self.provisional:
                return f"gemini-{family}-latest"  # a stand-in: no list read yet
            raise NeedCatalog(family)
        model = self.families.choose(family, self.keys, self.skipped)
        self.chosen[model] = family
        return model


_current: ContextVar[Resolution | None] = ContextVar("model_families", default=None)


def is_family(name: str) -> bool:
    return name in FAMILIES


def model_for(family: str) -> str:
    """The model of `family` for the request being translated (see `translate`)."""
    resolution = _current.get()
    if resolution is None:
        raise NeedCatalog(family)
    return resolution.model_for(family)


T = TypeVar("T")


async def translate(scope: Scope, resolution: Resolution, creds: Credentials, fn: Callable[[], Awaitable[T]]) -> T:
    """`fn()` (a request translator) with `resolution` current; when it needs a family
    and no list is cached, the request is first checked in full with a stand-in model
    (bad input is refused before anything, the model list included, goes upstream),
    then the list is read and `fn()` runs again. `fn` must start afresh each time (the
    protocols' translators reset the request's media budget)."""
    token = _current.set(resolution)
    try:
        try:
            return await fn()
        except NeedCatalog:
            resolution.provisional = True
            try:
                await fn()
            finally:
                resolution.provisional = False
            await resolution.families.load(settings_of(scope), creds)
            return await fn()
    finally:
        _current.reset(token)


def resolution_for(scope: Scope, creds: Credentials) -> Resolution:
    return Resolution(families_of(scope), creds.keys)


async def resolve_family(scope: Scope, creds: Credentials, family: str) -> str:
    """The model of `family` for a route that names no model itself (speech, images,
    /verify's generate probe). A name that is not a family is returned as it is."""
    if not is_family(family):
        return family
    families = families_of(scope)
    await families.load(settings_of(scope), creds)
    return families.choose(family, creds.keys)


def not_open(error: GeminiError, body: bytes) -> bool:
    """A 403 without a reason about the key, or a 429 whose quota limit is 0: the model
    is listed but this key's tier may not use it."""
    if error.status == 403:
        return not error.reason and not error.invalid_key and b"suspended" not in body
    if error.status != 429:
        return False
    if re.search(rb"limit: ?0\b", body):
        return True
    try:
        details = json.loads(body).get("error", {}).get("details", [])
        for detail in details:
            for violation in detail.get("violations", []) if isinstance(detail, dict) else []:
                if isinstance(violation, dict) and str(violation.get("quotaValue")) == "0":
                    return True
    except (ValueError, AttributeError, TypeError, RecursionError):
        return False
    return False
