"""What a translator left out of a request, said in the answer's `x-proxy-dropped` header.

Forward compatibility (docs/forward-compatibility.md): a tool type, content block, input
item or field that a translator cannot send to Gemini is dropped, not refused with 400,
and the answer names each one: `x-proxy-dropped: tools[3]:advisor_20260301, context_management`.
A translator adds to its call's `Dropped`; code deep in a translator that has no call
object at hand (a thinking level clamped to what the model takes) uses `note`, a
per-request list in a context variable that `start` opens (`calls.read_json`); the
call's `Attempt` adds what it left out after Gemini refused it (translate.attempt), and
`header` names them all, once each, on the whole answer, the streamed one and an
upstream failure alike.

An entry is `where` (the request's path to the thing, `messages[2].content[0]`) and,
when it helps, `:what` (its type). Both come from the client, so they are cut down to
safe header characters and a bounded length; past MAX_ENTRIES the header says how many
more there were (a long replayed history must not make a huge header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextvars import ContextVar

HEADER = "x-proxy-dropped"
MAX_ENTRIES = 20
MAX_PART = 80  # characters of one `where` or `what`
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]/@+]")
_INDEX = re.compile(r"\.(\d+)(?=\.|$)")
_DIGITS = re.compile(r"(\d+)")
_noted: ContextVar[list[str] | None] = ContextVar("dropped_noted", default=None)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text[:MAX_PART])


def where(param: str) -> str:
    """A dotted error param (`messages.2.content.0`) as the header writes it (`messages[2].content[0]`)."""
    return _INDEX.sub(r"[\1]", param)


def entry(param: str, what: object = None) -> str:
    """One entry: the thing at `param` (dotted or bracketed) and, when `what` is a
    non-empty string (its type), `:what`; both made header-safe."""
    text = _safe(where(param))
    if isinstance(what, str) and what:
        text += ":" + _safe(what)
    return text


def ordered(names: Iterable[str]) -> list[str]:
    """Entries in request order (`tools[2]` before `tools[10]`), however they were found."""
    return sorted(names, key=lambda name: [int(t) if t.isdigit() else t for t in _DIGITS.split(name)])


class Dropped(list[str]):
    """The entries dropped from one request, in the order the translator met them."""

    def add(self, param: str, what: object = None) -> None:
        """Note that the thing at `param` was dropped; `what` is its type or value when
        that says more (any JSON value: only a string shows)."""
        text = entry(param, what)
        if text not in self:
            self.append(text)


def start() -> list[str]:
    """A fresh list of noted names for the request being handled (calls.read_json)."""
    names: list[str] = []
    _noted.set(names)
    return names


def current() -> list[str]:
    """The live list of the request being handled (a new one outside a request)."""
    names = _noted.get()
    return names if names is not None else start()


def note(name: str) -> None:
    """Note a name for the request being handled (no-op outside one)."""
    names = _noted.get()
    if names is not None and name not in names:
        names.append(name)


def header(dropped: Sequence[str]) -> dict[str, str]:
    """The response header naming what was dropped, each entry once; no header when
    nothing was."""
    unique = list(dict.fromkeys(name for name in dropped if name))
    if not unique:
        return {}
    shown = unique[:MAX_ENTRIES]
    if len(unique) > MAX_ENTRIES:
        shown.append(f"+{len(unique) - MAX_ENTRIES}-more")
    return {HEADER: ", ".join(shown)}
