"""What a translator left out of a request, told to the client in one response header.

Forward compatibility (docs/responses-and-codex.md): a tool type, content block, input
item or field a translator does not know is not a 400 by itself. It is left out of the
Gemini request and named in `x-proxy-dropped` (`tools[3]:tool_search,
input[5]:mcp_list_tools`), so a user who wonders why the model ignored something can
see it. Names come from the client, so each is cut down to header-safe characters, and
the list is capped (a long replayed history must not make a huge header).
"""

from __future__ import annotations

import re

HEADER = "x-proxy-dropped"
MAX_NAMES = 20
UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]:]")
DIGITS = re.compile(r"(\d+)")


def entry(where: str, kind: object) -> str:
    """One entry, `where:kind`, with the client's type name made header-safe."""
    return f"{where}:{UNSAFE.sub('', str(kind))[:64] or '?'}"


def ordered(names: list[str]) -> list[str]:
    """Entries in request order (`tools[2]` before `tools[10]`), however they were found."""
    return sorted(names, key=lambda name: [int(t) if t.isdigit() else t for t in DIGITS.split(name)])


def dropped_header(names: list[str]) -> dict[str, str]:
    """`{"x-proxy-dropped": "a, b"}` when something was dropped, else `{}`."""
    if not names:
        return {}
    shown = names[:MAX_NAMES]
    more = f", and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return {HEADER: ", ".join(shown) + more}
