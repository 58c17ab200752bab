"""The server-side key pool and the access tokens that unlock it.

Sources, in order: the AWS Secrets Manager secret named by `KEYS_SECRET_ARN`, then
`GEMINI_API_KEYS` and `ACCESS_TOKENS` from the environment. They combine like this:

- Keys: the secret's keys when it lists any (a rotated secret must be able to drop a
  burned key, so environment keys are not mixed in); `GEMINI_API_KEYS` only when no
  secret is set or the secret lists no keys.
- Access tokens: the secret's and `ACCESS_TOKENS`, both (a plain comma-separated secret
  holds keys only, so its tokens live in the environment).

The secret string is JSON `{"gemini_keys": [...], "access_tokens": [...]}` (each a list,
or a comma-separated string) or a plain comma-separated string of keys. It is read once
per container, cached, and read again when it is older than `KEYS_REFRESH_SECONDS`: the
request that finds it stale waits for the new value, while requests arriving during that
read keep the last good pool (one read in flight at most; `KEYS_REFRESH_SECONDS=0` reads
on every request that finds no read running). A read that fails keeps the
last good pool and logs once; a secret never read successfully raises `PoolUnavailable`
(a 503 for requests that need the pool), and is tried again after at most
`RETRY_SECONDS`. Nothing of the secret's content goes into logs or errors.

boto3 is imported only when a secret is configured (its import is a large part of a cold
start, docs/speed.md; it is part of the Lambda runtime, so it is not packaged), and its
blocking call runs in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings, split_list
from ..logs import logger

RETRY_SECONDS = 30.0  # after a failed read, the next try waits at most this long
SDK_TIMEOUT = 5.0  # seconds for each Secrets Manager connect and read

# The clock used for refresh decisions; tests replace it to move time forward.
clock: Callable[[], float] = time.monotonic

_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def header_safe(value: str) -> bool:
    """Printable ASCII without spaces: what a key or token may hold, and safe in a header."""
    return _HEADER_SAFE.fullmatch(value) is not None


class PoolUnavailable(Exception):
    """The configured pool source cannot be read; the message never holds secret content."""


@dataclass(frozen=True)
class KeyPool:
    keys: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()


def parse_secret(text: str) -> KeyPool:
    """The keys and tokens of a secret string, or ValueError saying (without content) why not."""
    text = text.strip()
    if not text:
        raise ValueError("the secret is empty")
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the secret is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ValueError('the secret must be a JSON object {"gemini_keys": [...], "access_tokens": [...]}')
        if "gemini_keys" not in data and "access_tokens" not in data:
            raise ValueError("the secret's JSON has neither gemini_keys nor access_tokens")
        pool = KeyPool(_values(data, "gemini_keys"), _values(data, "access_tokens"))
    else:
        pool = KeyPool(_checked(split_list(text), "the comma-separated keys"), ())
    if not pool.keys and not pool.tokens:
        raise ValueError("the secret holds no keys and no access tokens")
    return pool


def _values(data: dict[str, Any], name: str) -> tuple[str, ...]:
    raw = data.get(name)
    if raw is None:
        return ()
    if isinstance(raw, str):
        return _checked(split_list(raw), name)
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError(f"{name} must be a list of strings")
    return _checked(split_list(",".join(raw)), name)


def _checked(values: tuple[str, ...], name: str) -> tuple[str, ...]:
    for value in values:
        if not header_safe(value):
            raise ValueError(f"{name} hold a value with spaces or characters that cannot go in a header")
    return values


def combine(secret: KeyPool, settings: Settings) -> KeyPool:
    """The pool a request sees: see the module docstring for why it combines this way."""
    keys = secret.keys or settings.api_keys
    tokens = secret.tokens + tuple(t for t in settings.access_tokens if t not in secret.tokens)
    return KeyPool(keys, tokens)


# Reading the secret ----------------------------------------------------------------------

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if arn.startswith("arn:") and len(parts) > 4 and parts[3] else None


def _client(arn: str) -> Any:
    """One Secrets Manager client per region (creating one costs tens of milliseconds)."""
    region = _region(arn)
    with _clients_lock:
        client = _clients.get(region or "")
        if client is None:
            import boto3  # only here: requests that need no secret never import it
            from botocore.config import Config

            config = Config(connect_timeout=SDK_TIMEOUT, read_timeout=SDK_TIMEOUT, retries={"max_attempts": 2})
            client = boto3.client("secretsmanager", region_name=region, config=config)
            _clients[region or ""] = client
        return client


def read_secret(arn: str) -> KeyPool:
    """Fetch and parse the secret (blocking; run in a thread). Raises PoolUnavailable."""
    try:
        answer = _client(arn).get_secret_value(SecretId=arn)
    except ImportError:
        raise PoolUnavailable("boto3 is not installed (pip install boto3)") from None
    except Exception as exc:  # noqa: BLE001 - botocore's errors; only their code is kept
        error = getattr(exc, "response", None)
        code = error.get("Error", {}).get("Code") if isinstance(error, dict) else None
        raise PoolUnavailable(f"the secret cannot be read ({code or type(exc).__name__})") from None
    text = answer.get("SecretString")
    if text is None and answer.get("SecretBinary") is not None:
        try:
            text = bytes(answer["SecretBinary"]).decode("utf-8")
        except UnicodeDecodeError:
            raise PoolUnavailable("the secret is binary, not UTF-8 text") from None
    try:
        return parse_secret(text or "")
    except ValueError as exc:
        raise PoolUnavailable(str(exc)) from None


class _Cached:
    """The secret's last good value for one configuration, and when to read it again."""

    def __init__(self, settings: Settings) -> None:
        self.arn = settings.keys_secret_arn
        self.settings = settings
        self.pool: KeyPool | None = None
        self.next_read = 0.0
        self.failing = False
        self.reading: asyncio.Future[KeyPool] | None = None

    async def get(self) -> KeyPool:
        now = clock()
        if self.pool is not None and now < self.next_read:
            return self.pool
        if self.reading is not None and not self.reading.done():
            if self.pool is not None:
                return self.pool  # someone is already reading: keep serving the last good pool
            if self.reading.get_loop() is asyncio.get_running_loop():
                return await asyncio.shield(self.reading)
        if self.pool is None and now < self.next_read:
            raise PoolUnavailable("the secret could not be read recently")
        self.reading = asyncio.ensure_future(self._read())
        return await asyncio.shield(self.reading)

    async def _read(self) -> KeyPool:
        refresh = self.settings.keys_refresh_seconds
        try:
            secret = await asyncio.to_thread(read_secret, self.arn)
        except PoolUnavailable as exc:
            self.next_read = clock() + min(refresh, RETRY_SECONDS)
            if not self.failing:
                self.failing = True
                serving = "keeps serving the last good keys" if self.pool else "answers 503 to requests that need it"
                logger.error(
                    "key pool secret unavailable",
                    extra={"fields": {"reason": str(exc), "pool": serving}},
                )
            if self.pool is not None:
                return self.pool
            raise
        if self.failing:
            self.failing = False
            logger.info("key pool secret readable again")
        self.pool = combine(secret, self.settings)
        self.next_read = clock() + refresh
        return self.pool


_cache: dict[tuple[Any, ...], _Cached] = {}


async def load_pool(settings: Settings) -> KeyPool:
    """The pool for this request (PoolUnavailable when the secret was never readable)."""
    if not settings.keys_secret_arn:
        return KeyPool(settings.api_keys, settings.access_tokens)
    ident = (settings.keys_secret_arn, settings.keys_refresh_seconds, settings.api_keys, settings.access_tokens)
    cached = _cache.get(ident)
    if cached is None:
        cached = _cache.setdefault(ident, _Cached(settings))
    return await cached.get()


def forget() -> None:
    """Drop every cached pool and client (tests; a real container never needs it)."""
    _cache.clear()
    with _clients_lock:
        _clients.clear()
