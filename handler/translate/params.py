"""Generation parameters checked before anything goes upstream, for every protocol,
and OpenAI's answer formats (chat's and Responses') as Gemini's generationConfig.

A value of the wrong type or out of range (a string temperature, a negative count, a
seed past Gemini's int32) is refused with a 400 that names the field, instead of
Gemini's own 400 after a round trip (or, for some values, a silently different
request). NaN and infinity cannot arrive here: the strict JSON decoder refuses them.
Ranges are the tighter of OpenAI's documented ones and Gemini's.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .schema import to_typed_gemini_schema

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


def answer_format(kind: Any, given: Any, param: str, config: dict[str, Any]) -> None:
    """OpenAI's answer formats (chat's `response_format`, Responses' `text.format`):
    `text`, `json_object`, or `json_schema` with its schema in `given` -> Gemini's
    generationConfig. Always JSON, a bare enum too (`"red"`, not text/x.enum's bare
    `red`): the client parses the content as JSON of its schema."""
    if kind == "text":
        return
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
        return
    if kind == "json_schema":
        if not isinstance(given, dict):
            raise BadRequest(f"{param}.schema must be a JSON schema object.", f"{param}.schema")
        converted, typed = to_typed_gemini_schema(given, f"{param}.schema")
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema" if typed else "responseSchema"] = converted
        return
    raise BadRequest(f"{param}.type must be text, json_object or json_schema, not {kind!r}.", param)
