"""Compact JSON: one encoder for every body and event the proxy writes."""

from __future__ import annotations

import json
from typing import Any, Callable

# allow_nan=False: a NaN must never be written as a bare literal into a JSON body.
dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_bytes(data: Any) -> bytes:
    return dumps(data).encode()
