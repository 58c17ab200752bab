"""Gemini's error body, parsed once into a typed value.

Failover, cooldown, /verify and every error the proxy renders read the same
`GeminiError`; nothing else looks inside an upstream error body. The parser takes
whatever arrives (HTML, a list-wrapped body from Google's OpenAI-compatible endpoint, a
`retryDelay` that is not a duration, `violations` that are not a list) and never raises.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_DURATION = re.compile(r"\s*(\d{1,9}(?:\.\d{0,9})?)s?\s*")


def duration_seconds(value: object) -> float | None:
    """A protobuf Duration as JSON (`"37s"`, `"1.5s"`) or a plain number, in seconds;
    None when it is neither (or absurdly large)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and 0 <= value < 1e9 else None
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value)
    return float(match.group(1)) if match else None


def whole_seconds(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up (decision 9)."""
    return str(max(0, math.ceil(seconds)))


@dataclass(frozen=True)
class GeminiError:
    """What an upstream error answer says.

    `retry_delay` is RetryInfo's delay in seconds; `per_day` says a QuotaFailure names
    a per-day quota; `quota_model` is the model its quota dimensions name (quotas are
    per model); `invalid_key` is an ErrorInfo reason of API_KEY_INVALID.
    """

    status: int
    message: str = ""
    reason: str = ""
    retry_delay: float | None = None
    per_day: bool = False
    quota_model: str | None = None
    invalid_key: bool = False

    @property
    def key_is_bad(self) -> bool:
        """An answer about the key itself (not the request): another key may do better."""
        return self.invalid_key or self.status in (401, 403)


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse(status: int, body: bytes) -> GeminiError:
    """The error in `body` (an upstream answer with `status`); never raises."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, list) and data:  # Google's OpenAI-compatible endpoint wraps errors in a list
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GeminiError(status)
    message = error.get("message")
    reason = ""
    delay: float | None = None
    per_day = False
    model: str | None = None
    for detail in _dicts(error.get("details")):
        kind = str(detail.get("@type", ""))
        if isinstance(detail.get("reason"), str) and not reason:
            reason = detail["reason"]
        if kind.endswith("RetryInfo"):
            delay = duration_seconds(detail.get("retryDelay"))
        for violation in _dicts(detail.get("violations")):
            quota_id = violation.get("quotaId")
            if isinstance(quota_id, str) and "perday" in quota_id.lower():
                per_day = True
            dimensions = violation.get("quotaDimensions")
            if isinstance(dimensions, dict) and isinstance(dimensions.get("model"), str):
                model = dimensions["model"]
    return GeminiError(
        status=status,
        message=message if isinstance(message, str) else "",
        reason=reason,
        retry_delay=delay,
        per_day=per_day,
        quota_model=model,
        invalid_key=reason == "API_KEY_INVALID",
    )
