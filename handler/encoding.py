"""Compact JSON: one encoder for every body and event the proxy writes, and one strict
decoder for the JSON it is sent (request bodies, JSON inside a tool call's string).

The decoder refuses what cannot be sent on as JSON: `NaN` / `Infinity` literals, a
number too large for a float (`1e400` would become infinity), a number of thousands of
digits, and nesting deeper than Python can walk (RecursionError becomes ValueError), so
that every caller has one exception to catch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

# allow_nan=False: a NaN must never be written as a bare literal into a JSON body.
dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_bytes(data: Any) -> bytes:
    return dumps(data).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]}... is too large")
    return value


_decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def loads(text: str) -> Any:
    """Strict JSON: ValueError (a JSONDecodeError when the syntax is wrong) for anything
    that could not be written back out as JSON."""
    try:
        return _decoder.decode(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
