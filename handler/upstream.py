"""Calls to Gemini: one pooled client session per event loop, and failover between keys.

One aiohttp session is kept per event loop and reused by every request on it: opening a
client per call is what makes the heavyweight Python proxies slow. Keying by loop lets
the session survive hosts that run each invocation in a new loop (Mangum on a warm
Lambda container, tests).

Failover: a call that fails in a way another key may not (429, 403, 5xx, a 400 that
says the key is invalid, a connection failure or a timeout) is sent again with the next
key of the request's list, up to `MAX_ATTEMPTS`, as long as nothing has gone to the
client yet. Callers only ever see the final outcome.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from dataclasses import dataclass
from typing import AsyncIterable, Mapping

import aiohttp

from . import keys as keyring
from .config import Settings

RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
PER_DAY_COOLDOWN = 3600.0  # a daily quota rarely comes back within the hour
DEFAULT_429_COOLDOWN = 30.0

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
    None and `status` is 502 (unreachable) or 504 (timed out).
    """

    status: int
    key: str
    attempts: int
    response: aiohttp.ClientResponse | None = None
    body: bytes = b""
    message: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None and self.status < 400


def _error_details(body: bytes) -> list[dict]:
    try:
        details = json.loads(body)["error"].get("details") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    return [d for d in details if isinstance(d, dict)]


def retry_delay(body: bytes) -> str | None:
    """Gemini's `RetryInfo.retryDelay` ("37s"), if the error body has one."""
    for detail in _error_details(body):
        if str(detail.get("@type", "")).endswith("RetryInfo") and detail.get("retryDelay"):
            return str(detail["retryDelay"])
    return None


def is_daily_quota(body: bytes) -> bool:
    for detail in _error_details(body):
        for violation in detail.get("violations") or []:
            if isinstance(violation, dict) and "perday" in str(violation.get("quotaId", "")).lower():
                return True
    return False


def is_invalid_key(body: bytes) -> bool:
    return any(d.get("reason") == "API_KEY_INVALID" for d in _error_details(body))


def _seconds(delay: str | None, default: float) -> float:
    match = re.fullmatch(r"\s*([\d.]+)s?\s*", delay or "")
    return float(match.group(1)) if match else default


def _should_retry(status: int, body: bytes) -> bool:
    return status in RETRY_STATUSES or (status == 400 and is_invalid_key(body))


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
    gets one attempt only.
    """
    client = session(settings)
    url = settings.base_url + path_qs
    tries = keyring.order(keys)
    limit = min(settings.max_attempts, len(tries)) if isinstance(body, (bytes, type(None))) else 1
    outcome = Outcome(status=502, key="", attempts=0)
    for attempt, key in enumerate(tries[:limit], start=1):
        sent = dict(headers)
        if bearer:
            sent["Authorization"] = f"Bearer {key}"
        else:
            sent["x-goog-api-key"] = key
        outcome = Outcome(status=502, key=key, attempts=attempt)
        try:
            response = await client.request(method, url, headers=sent, data=body)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            outcome.status, outcome.message = 504, "The Gemini API did not answer in time."
            continue
        except aiohttp.ClientError:
            outcome.message = "The Gemini API could not be reached."
            continue
        outcome.status = response.status
        if response.status < 400:
            outcome.response = response
            return outcome
        try:
            outcome.body = await response.read()
        except (asyncio.TimeoutError, aiohttp.ClientError):
            outcome.body = b""
        finally:
            response.release()
        outcome.response = response
        if response.status == 429:
            delay = retry_delay(outcome.body)
            outcome.retry_after = delay
            cooldown = PER_DAY_COOLDOWN if is_daily_quota(outcome.body) else _seconds(delay, DEFAULT_429_COOLDOWN)
            keyring.cool_down(key, cooldown)
        if not _should_retry(response.status, outcome.body):
            return outcome
    return outcome
