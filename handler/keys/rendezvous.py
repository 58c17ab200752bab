"""Rendezvous (highest-random-weight) order of keys for a name: the same on every
container with no shared state, and mostly unchanged when keys come and go (only names
whose first key left move). Sticky sessions order a session's keys so (keys/session.py),
and affinity looks for a resource on its keys in this order (affinity/binding.py).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

MAX_KEYS = 4096  # keys whose HMAC pads this container keeps


def rendezvous(name: str, keys: Iterable[str]) -> list[str]:
    """Keys in highest-random-weight order for `name`: the same on every container, and
    mostly unchanged when keys come and go (only names whose first key left move).
    The weight is HMAC-SHA256(key, name), from each key's pads hashed once (`_pads`):
    sticky sessions order every request's keys so (bench/rendezvous.py)."""
    encoded = name.encode()
    return sorted(keys, key=lambda k: _weight(k, encoded), reverse=True)


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_pads: OrderedDict[str, tuple[Any, Any]] = OrderedDict()


def _weight(key: str, name: bytes) -> bytes:
    """HMAC-SHA256(key, name) (RFC 2104, the same bytes as `hmac.new`), with the key's
    inner and outer pad states computed once per key: a third of the cost."""
    pads = _pads.get(key)
    if pads is None:
        raw = key.encode()
        raw = (hashlib.sha256(raw).digest() if len(raw) > 64 else raw).ljust(64, b"\0")
        pads = _pads[key] = (hashlib.sha256(raw.translate(_IPAD)), hashlib.sha256(raw.translate(_OPAD)))
        if len(_pads) > MAX_KEYS:
            _pads.popitem(last=False)
    inner = pads[0].copy()
    inner.update(name)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.digest()
