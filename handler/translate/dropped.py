"""`x-proxy-dropped`: the request fields the proxy left out or changed so that the call
would not fail (a sampling parameter the model refuses, a thinking level it lacks, a
tool or item type Gemini has no equivalent for), so a client can see what happened.

Names accumulate per request: on the call object (`dropped`, a list) or through `note`
for code deep in a translator (a context variable that `start` opens per request);
`dropped_header` renders them once, comma-separated, each name once.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

HEADER = "x-proxy-dropped"
_names: ContextVar[list[str] | None] = ContextVar("dropped_names", default=None)


def start() -> list[str]:
    """A fresh list for the request being handled (read_json calls this)."""
    names: list[str] = []
    _names.set(names)
    return names


def current() -> list[str]:
    """The live list of the request being handled (a new one outside a request)."""
    names = _names.get()
    return names if names is not None else start()


def note(name: str) -> None:
    names = _names.get()
    if names is not None and name not in names:
        names.append(name)


def noted() -> list[str]:
    return list(_names.get() or ())


def dropped_header(names: Iterable[str]) -> dict[str, str]:
    """`{"x-proxy-dropped": "a, b"}`, or `{}` when nothing was dropped."""
    unique = list(dict.fromkeys(n for n in names if n))
    return {HEADER: ", ".join(unique)} if unique else {}
