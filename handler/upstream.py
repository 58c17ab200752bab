"""Calls to Gemini: one pooled client session per event loop, and failover between keys.

One aiohttp session is kept per event loop and reused by every request on it: opening a
client per call is what makes the heavyweight Python proxies slow. Keying by loop lets
the session survive hosts that run each invocation in a new loop (Mangum on a warm
Lambda container, tests).

Failover: a call that fails in a way another key may not (429, 403, 500, 502, 503,
504, a 400 whose reason is API_KEY_INVALID, a connection failure or a timeout) is sent
again with another key of the request's list that it has not tried, up to
`MAX_ATTEMPTS` and never more than the number of keys. A plain 400 is a bad request and
would fail with every key: it is returned at once. Failover happens before anything
goes to the client: `send` returns only once an upstream answered with a status below
400 (the answer is then the client's, streamed as it comes; a stream that breaks later
is not retried) or the last attempt failed. Callers only ever see the final outcome.

Keys that got a 429, an API_KEY_INVALID or a 403 cool down in memory (see the
`*_COOLDOWN` constants): `keys.order` tries them last while other keys are available.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from dataclasses import dataclass
from typing import AsyncIterable, Mapping

from .lazy import aiohttp
from . import keys as keyring
from .config import Settings
from .logs import logger
from .metrics import model_of

RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})

# How long a key that failed is moved to the end of the order (seconds). A per-minute
# 429 for as long as Gemini's RetryInfo says; a per-day quota comes back at midnight
# Pacific time, so an hour (or RetryInfo, if longer) at least; an invalid key does not
# heal; a 403 (suspended project, API not enabled) rarely heals quickly, but some 403s
# concern one resource rather than the key, hence the shorter time.
PER_MINUTE_COOLDOWN = 60.0  # a 429 without RetryInfo
PER_DAY_COOLDOWN = 3600.0
INVALID_KEY_COOLDOWN = 3600.0
FORBIDDEN_COOLDOWN = 600.0

_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
    weakref.WeakKeyDictionary()
)


def session(settings: Settings) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    current = _sessions.get(loop)
    if current is None or current.closed:
        current = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
            ),
            # Bodies pass through byte for byte; the client decompresses what it asked for.
            auto_decompress=False,
            # Send only the headers the client sent, not aiohttp's own defaults.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        _sessions[loop] = current
    return current


async def close_sessions() -> None:
    """Close this loop's session (app shutdown)."""
    current = _sessions.pop(asyncio.get_running_loop(), None)
    if current is not None:
        await current.close()


@dataclass
class Outcome:
    """The final answer of a call after failover.

    `response` is open and unread on success (so it can be streamed) and already read
    into `body` on an upstream error status. When no answer came at all, `response` is
    None, `message` says why and `status` is 502 (unreachable) or 504 (timed out), or 503
    when there was no key to try. `retry_after` is set only on a final 429.
    """

    status: int
    key: str
    attempts: int
    response: aiohttp.ClientResponse | None = None
    body: bytes = b""
    message: str = ""
    retry_after: str | None = None
    model: str = ""  # the Gemini model of the upstream path, for the access log and metrics

    @property
    def ok(self) -> bool:
        return self.response is not None and self.status < 400


def _error(body: bytes) -> dict:
    """The `error` object of a Gemini error body ({} when there is none)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if isinstance(data, list) and data:  # Google's OpenAI-compatible endpoint wraps errors in a list
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _error_details(body: bytes) -> list[dict]:
    details = _error(body).get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def error_message(body: bytes) -> str:
    """Gemini's message in an error body ('' when there is none)."""
    message = _error(body).get("message")
    return message if isinstance(message, str) else ""


def retry_delay(body: bytes) -> str | None:
    """Gemini's `RetryInfo.retryDelay` ("37s"), if the error body has one."""
    for detail in _error_details(body):
        if str(detail.get("@type", "")).endswith("RetryInfo") and detail.get("retryDelay"):
            return str(detail["retryDelay"])
    return None


def is_daily_quota(body: bytes) -> bool:
    """A 429 whose QuotaFailure names a per-day quota (`...PerDay...`)."""
    for detail in _error_details(body):
        for violation in detail.get("violations") or []:
            if isinstance(violation, dict) and "perday" in str(violation.get("quotaId", "")).lower():
                return True
    return False


def is_invalid_key(body: bytes) -> bool:
    return any(d.get("reason") == "API_KEY_INVALID" for d in _error_details(body))


def seconds(delay: str | None, default: float) -> float:
    """`"37s"` or `"1.5s"` as a number of seconds; `default` when absent or unreadable."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)s?\s*", delay or "")
    return float(match.group(1)) if match else default


def should_retry(status: int, body: bytes) -> bool:
    return status in RETRY_STATUSES or (status == 400 and is_invalid_key(body))


def cooldown(status: int, body: bytes) -> float:
    """How long a key that got this answer should be tried last (0: not at all)."""
    if status == 429:
        delay = seconds(retry_delay(body), PER_MINUTE_COOLDOWN)
        return max(PER_DAY_COOLDOWN, delay) if is_daily_quota(body) else delay
    if status == 400 and is_invalid_key(body):
        return INVALID_KEY_COOLDOWN
    if status == 403:
        return FORBIDDEN_COOLDOWN
    return 0.0


def remember(key: str, status: int, body: bytes) -> None:
    """Cool `key` down after this answer, if it calls for it (see `cooldown`)."""
    wait = cooldown(status, body)
    if wait > 0:
        keyring.cool_down(key, wait)


async def send(
    settings: Settings,
    method: str,
    path_qs: str,
    headers: Mapping[str, str],
    body: bytes | AsyncIterable[bytes] | None,
    keys: tuple[str, ...],
    *,
    bearer: bool = False,
) -> Outcome:
    """Send one request to Gemini with failover; `path_qs` starts with '/'.

    A body that is not bytes (a large upload being streamed) cannot be replayed, so it
    gets one attempt only. After a final 429, `retry_after` is the soonest RetryInfo
    delay any tried key was given (the earliest a retry can succeed).
    """
    client = session(settings)
    url = settings.base_url + path_qs
    tries = keyring.order(keys)
    limit = min(settings.max_attempts, len(tries)) if isinstance(body, (bytes, type(None))) else 1
    model = model_of(path_qs)
    outcome = Outcome(status=503, key="", attempts=0, message="No Gemini key to use.", model=model)
    soonest: tuple[float, str] | None = None
    for attempt, key in enumerate(tries[:limit], start=1):
        sent = dict(headers)
        if bearer:
            sent["Authorization"] = f"Bearer {key}"
        else:
            sent["x-goog-api-key"] = key
        outcome = Outcome(status=502, key=key, attempts=attempt, model=model)
        try:
            response = await client.request(method, url, headers=sent, data=body)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            outcome.status, outcome.message = 504, "The Gemini API did not answer in time."
            _note_failover(outcome, attempt < limit)
            continue
        except aiohttp.ClientError:
            outcome.message = "The Gemini API could not be reached."
            _note_failover(outcome, attempt < limit)
            continue
        outcome.status = response.status
        outcome.response = response
        if response.status < 400:
            return outcome
        try:
            # Gemini quotes the key in some errors ("Consumer 'api_key:AIza...'"): mask it.
            outcome.body = (await response.read()).replace(key.encode(), keyring.mask(key).encode())
        except (asyncio.TimeoutError, aiohttp.ClientError):
            outcome.body = b""
        finally:
            response.release()
        remember(key, response.status, outcome.body)
        if response.status == 429:
            delay = retry_delay(outcome.body)
            if delay is not None:
                wait = seconds(delay, 0.0)
                if soonest is None or wait < soonest[0]:
                    soonest = (wait, delay)
        if not should_retry(response.status, outcome.body):
            return outcome
        _note_failover(outcome, attempt < limit)
    if outcome.status == 429 and soonest is not None:
        outcome.retry_after = soonest[1]
    return outcome


def _note_failover(outcome: Outcome, again: bool) -> None:
    """One log line per failed attempt that is retried (masked key only)."""
    if again:
        logger.info(
            "failover",
            extra={"fields": {"key": keyring.mask(outcome.key), "upstream_status": outcome.status, "attempt": outcome.attempts}},
        )
