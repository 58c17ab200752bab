"""How many items a translated request may list, checked once its JSON is decoded and
before any translation starts.

Translating a conversation costs about 10 microseconds per message on the event loop
(roles, parts, tool calls), so a 6 MiB body of 150,000 one-character messages held the
loop for about 2 seconds (issue 23). `MAX_ITEMS` bounds the top-level lists that the
translators walk item by item (chat and Messages `messages`, Responses `input`, `tools`,
Messages `system` blocks): 20,000 items translate in about 0.2 s, while a long agent
session rarely passes a few thousand messages. Lists inside an item are bounded by the
body size (`MAX_BODY_BYTES`) and cost far less per item.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest

MAX_ITEMS = 20_000
LISTED = ("messages", "input", "contents", "tools", "system")


def check_items(body: dict[str, Any]) -> None:
    """BadRequest naming the first top-level list of `body` longer than MAX_ITEMS."""
    for field in LISTED:
        value = body.get(field)
        if isinstance(value, list) and len(value) > MAX_ITEMS:
            raise BadRequest(f"'{field}' may hold at most {MAX_ITEMS} items, not {len(value)}.", field)
