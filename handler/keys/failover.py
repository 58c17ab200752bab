"""One call to Gemini, tried with the request's keys one after another until one answers.

A call that fails in a way another key may not (429, 403, 500, 502, 503, 504, a 400
whose reason is API_KEY_INVALID, a 401, a connection failure or a timeout) is sent
again with a key of the request's list that it has not tried, up to `MAX_ATTEMPTS` and
never more than the number of keys. A plain 400 is a bad request and would fail with
every key: it is returned at once. Failover ends before anything goes to the client:
`send` returns once an upstream answered below 400 (the answer is then the client's,
streamed as it comes; a stream that breaks later is not retried) or the last attempt
failed. Keys are tried in `Cooldown.order` (a session's calls in one deterministic
order: keys/session.py); what an answer says about a key goes back into the cooldown.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass

from starlette.types import Scope

from .. import upstream
from ..config import Settings
from ..errors import UpstreamFailed
from ..logs import logger, note
from ..metrics import model_of
from ..upstream import UpstreamError, UpstreamResponse
from ..upstream.gemini_error import GeminiError, parse, whole_seconds
from .cooldown import Cooldown
from .credentials import Credentials
from .masking import mask, mask_in

RETRY_STATUSES = frozenset({401, 403, 429, 500, 502, 503, 504})
MAX_ERROR_BODY = 1024 * 1024  # an upstream error body larger than this is not read whole


@dataclass
class Outcome:
    """The final answer of a call after failover.

    `response` is open and unread on success (so it can be streamed); on an upstream
    error status its body was read into `body` (any key masked) and parsed into
    `error`. When no answer came at all, `response` is None, `message` says why and
    `status` is 502 (unreachable) or 504 (timed out), or 503 when there was no key.
    `retry_after` (seconds) is set only on a final 429 that said when to retry.
    """

    status: int
    key: str = ""
    attempts: int = 0
    response: UpstreamResponse | None = None
    body: bytes = b""
    error: GeminiError | None = None
    message: str = ""
    retry_after: float | None = None
    model: str = ""  # the Gemini model called, for the access log and metrics

    @property
    def ok(self) -> bool:
        return self.response is not None and self.status < 400

    def text(self) -> str:
        """What went wrong, in words: ours, Gemini's message, or the status."""
        return self.message or (self.error.message if self.error else "") or f"The Gemini API answered {self.status}."


def about_resource(error: GeminiError) -> bool:
    """A 404, or a 403 without a reason about the key (a suspended project or a disabled
    API carries one): Google's answer for another project's file, cache or interaction."""
    return error.status == 404 or (error.status == 403 and not error.reason)


def should_retry(error: GeminiError) -> bool:
    return error.status in RETRY_STATUSES or error.invalid_key


async def send(
    settings: Settings,
    cooldown: Cooldown,
    method: str,
    path_qs: str,
    headers: Mapping[str, str],
    body: bytes | AsyncIterable[bytes] | None,
    creds: Credentials,
    *,
    bearer: bool = False,
    model: str | None = None,
    resources: bool = False,
) -> Outcome:
    """Send one request to Gemini with failover; `path_qs` starts with '/'. `resources`:
    the call may name per-project resources (affinity.binding.names_resources), so a 403
    without a reason is about one of them, not about the key, and cools no key.

    A body that is not bytes (a large upload being streamed) cannot be replayed, so it
    gets one attempt only. After a final 429, `retry_after` is the soonest RetryInfo
    delay any tried key was given (the earliest a retry can succeed).
    """
    url = settings.base_url + path_qs
    model = model or model_of(path_qs) or None
    tries = cooldown.order(creds.keys, model, creds.session)
    limit = min(settings.max_attempts, len(tries)) if isinstance(body, (bytes, type(None))) else 1
    outcome = Outcome(status=503, message="No Gemini key to use.", model=model or "")
    soonest: float | None = None
    for attempt, key in enumerate(tries[:limit], start=1):
        sent = dict(headers)
        if bearer:
            sent["Authorization"] = f"Bearer {key}"
        else:
            sent["x-goog-api-key"] = key
        outcome = Outcome(status=502, key=key, attempts=attempt, model=model or "")
        try:
            response = await upstream.request(settings, method, url, sent, body)
        except UpstreamError as exc:
            outcome.status, outcome.message = exc.status, exc.message
            _note_failover(outcome, attempt < limit)
            continue
        outcome.status = response.status
        outcome.response = response
        if response.status < 400:
            return outcome
        try:
            outcome.body = mask_in(await response.read(MAX_ERROR_BODY), creds.keys)
        except UpstreamError:
            outcome.body = b""
        outcome.error = error = parse(response.status, outcome.body)
        if creds.bound and about_resource(error):
            return outcome  # the resource is not this key's: no other key has it, the key is fine
        if not (error.status == 403 and about_resource(error) and resources):
            cooldown.remember(key, error, model, owned=creds.pooled)  # (another project's resource: the key is fine)
        if error.status == 429 and error.retry_delay is not None:
            soonest = error.retry_delay if soonest is None else min(soonest, error.retry_delay)
        if not should_retry(error):
            return outcome
        _note_failover(outcome, attempt < limit)
    if outcome.status == 429:
        outcome.retry_after = soonest
    return outcome


def _note_failover(outcome: Outcome, again: bool) -> None:
    """One log line per failed attempt that is retried (masked key only)."""
    if again:
        fields = {"key": mask(outcome.key), "upstream_status": outcome.status, "attempt": outcome.attempts}
        logger.info("failover", extra={"fields": fields})


def outcome_headers(outcome: Outcome, masked_key: str) -> dict[str, str]:
    """The proxy's own response headers: which masked key and model served, after how
    many tries, and `Retry-After` (whole seconds) when a final 429 said when to retry."""
    headers = {"x-proxy-key": masked_key, "x-proxy-attempts": str(outcome.attempts)}
    if outcome.model:
        headers["x-proxy-model"] = outcome.model  # the Gemini model that served
    if outcome.status == 429 and outcome.retry_after is not None:
        headers["retry-after"] = whole_seconds(outcome.retry_after)
    return headers


def note_outcome(scope: Scope, outcome: Outcome) -> dict[str, str]:
    """Note the outcome in the access log; the proxy's headers for the response."""
    masked = mask(outcome.key)
    fields = {"upstream_status": outcome.status, "key": masked, "attempts": outcome.attempts}
    if outcome.model:
        fields["model"] = outcome.model
    note(scope, **fields)
    return outcome_headers(outcome, masked)


def failure(outcome: Outcome, headers: dict[str, str] | None = None) -> UpstreamFailed:
    """The final upstream failure of `outcome` as a ProxyError with the same status."""
    code = "model_not_found" if outcome.status == 404 else None
    invalid = bool(outcome.error and outcome.error.invalid_key)
    return UpstreamFailed(outcome.text(), code=code, status=outcome.status, headers=headers, invalid_key=invalid)
