"""Generation parameters checked before anything goes upstream, for every protocol.

A value of the wrong type or out of range (a string temperature, a negative count, a
seed past Gemini's int32) is refused with a 400 that names the field, instead of
Gemini's own 400 after a round trip (or, for some values, a silently different
request). NaN and infinity cannot arrive here: the strict JSON decoder refuses them.
Ranges are the tighter of OpenAI's documented ones and Gemini's.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest

INT32 = 2**31 - 1
MAX_CANDIDATES = 8  # Gemini's candidateCount limit
MAX_STOP = 5  # Gemini's stopSequences limit


def number(value: Any, name: str, low: float, high: float) -> float | int | None:
    """`value` when it is a number within [low, high] (None stays None), else a 400."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"{name} must be a number from {low:g} to {high:g}.", name)
    return value


def integer(value: Any, name: str, low: int, high: int = INT32) -> int | None:
    """`value` when it is a whole number within [low, high] (2.0 counts), else a 400."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.", name)
    return value


def stop_sequences(value: Any, name: str) -> list[str] | None:
    """A string or a list of at most MAX_STOP strings, as a list (None when absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or len(value) > MAX_STOP or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a string or a list of at most {MAX_STOP} strings.", name)
    return value or None
