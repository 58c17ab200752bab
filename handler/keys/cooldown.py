"""Which keys recently failed, for how long, and for which model: policy and state together.

One `Cooldown` object lives on the app (`app.state.cooldown`), in memory, per
container: a cold start forgets it, as it should. A cooling key is never skipped, only
tried after the keys that are not cooling (soonest back first).

Policy (seconds a key is moved to the end of the order):
- a 429: as long as Gemini's RetryInfo says (60 without one); a per-day quota at least
  an hour (it comes back at midnight Pacific time). Quotas are per model and project,
  so a 429 cools the key for that model only: it keeps serving other models;
- an invalid key (API_KEY_INVALID, 401): an hour, for every model;
- a 403 (suspended project, API not enabled): ten minutes, for every model.

Bounds: a stranger who sends made-up keys (256 per /verify call, as often as they like)
must neither slow every later request nor push out what the proxy knows about its own
keys. So the pool's keys ("owned") and callers' own keys ("foreign") live in separate
tables; the foreign one is a small LRU; each lookup touches only the request's own keys
(O(1) per key), never the whole table.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ..upstream.gemini_error import GeminiError
from . import session as sessions
from .masking import mask

PER_MINUTE = 60.0  # a 429 without RetryInfo
PER_DAY = 3600.0
INVALID_KEY = 3600.0
FORBIDDEN = 600.0
MAX_OWNED = 10_000  # (key, model) entries for the pool's keys
MAX_FOREIGN = 1_024  # entries for callers' own keys: a least-recently-cooled table

Entry = tuple[str, "str | None"]  # (key, model); model None: every model


def policy(error: GeminiError, model: str | None) -> tuple[float, str | None, str]:
    """(seconds, model or None for every model, reason) for an upstream error; 0 seconds: none."""
    if error.status == 429:
        delay = error.retry_delay if error.retry_delay is not None else PER_MINUTE
        if error.per_day:
            return max(PER_DAY, delay), error.quota_model or model, "quota_exhausted"
        return delay, error.quota_model or model, "rate_limited"
    if error.invalid_key or error.status == 401:
        return INVALID_KEY, None, "invalid"
    if error.status == 403:
        return FORBIDDEN, None, "permission_denied"
    return 0.0, None, ""


class Cooldown:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._owned: dict[Entry, tuple[float, str]] = {}
        self._foreign: OrderedDict[Entry, tuple[float, str]] = OrderedDict()

    def remember(self, key: str, error: GeminiError, model: str | None = None, *, owned: bool = False) -> None:
        """Cool `key` after this answer, if the policy says so."""
        seconds, scope, reason = policy(error, model)
        if seconds > 0:
            self.cool(key, seconds, scope, reason, owned=owned)

    def cool(
        self, key: str, seconds: float, model: str | None = None, reason: str = "", *, owned: bool = False
    ) -> None:
        until = self.clock() + seconds
        entry: Entry = (key, model)
        table = self._owned if owned else self._foreign
        previous = table.pop(entry, None)
        if previous is not None and previous[0] > until:
            until, reason = previous
        if owned and len(table) >= MAX_OWNED:
            self._drop_expired()
            if len(table) >= MAX_OWNED:
                return
        table[entry] = (until, reason)
        if not owned and len(self._foreign) > MAX_FOREIGN:
            self._foreign.popitem(last=False)

    def _drop_expired(self) -> None:
        now = self.clock()
        for entry in [e for e, (until, _) in self._owned.items() if until <= now]:
            del self._owned[entry]

    def until(self, key: str, model: str | None = None) -> float:
        """When `key` is back for `model` (0.0: it is not cooling)."""
        if not self._owned and not self._foreign:
            return 0.0
        now = self.clock()
        best = 0.0
        for entry in ((key, None), (key, model)) if model else ((key, None),):
            for table in (self._owned, self._foreign):
                found = table.get(entry)
                if found is not None:
                    if found[0] <= now:
                        del table[entry]
                    elif found[0] > best:
                        best = found[0]
        return best

    def order(self, keys: tuple[str, ...], model: str | None = None, session: str | None = None) -> list[str]:
        """All keys in uniformly random order, or for a session in its rendezvous order
        (the same on every container: keys/session.py), cooling ones moved to the end
        (soonest back first). The sort is stable, so the others keep their order."""
        if len(keys) < 2:
            picked = list(keys)
        elif session is not None:
            picked = sessions.order(session, keys)
        else:
            picked = random.sample(keys, len(keys))
        if (self._owned or self._foreign) and len(picked) > 1:
            picked.sort(key=lambda k: self.until(k, model))
        return picked

    def snapshot(self, keys: Iterable[str] | None = None) -> list[dict[str, object]]:
        """What is cooling now, masked (for the status page): key, model, seconds left, reason.
        `keys`: only these keys' entries, chosen by the keys themselves, never by their masks
        (a made-up key with a pool key's first 6 and last 4 characters has the same mask)."""
        now = self.clock()
        wanted = None if keys is None else set(keys)
        out: list[dict[str, object]] = []
        for table in (self._owned, self._foreign):
            for (key, model), (until, reason) in list(table.items()):
                if until > now and (wanted is None or key in wanted):
                    out.append(
                        {"key": mask(key), "model": model, "seconds_left": round(until - now, 1), "reason": reason}
                    )
        return out

    def forget(self, key: str) -> None:
        """Drop every entry of `key` (a scan: for tests and operators, not requests)."""
        for table in (self._owned, self._foreign):
            for entry in [e for e in table if e[0] == key]:
                del table[entry]

    def clear(self) -> None:
        self._owned.clear()
        self._foreign.clear()
