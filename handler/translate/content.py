"""A client's message content read the same way in every protocol.

OpenAI chat, Responses and Anthropic Messages all take a message's content as a string
(one text part) or a list of typed parts, and a text part's `text` must be a string.
Refusals name the field the client sent (`messages[0].content[1].text`).
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .dropped import Dropped


def listed(content: Any, param: str, text_type: str = "text", noun: str = "content parts") -> list[Any]:
    """`content` as a list of parts: a string is one part of type `text_type`."""
    if isinstance(content, str):
        return [{"type": text_type, "text": content}]
    if not isinstance(content, list):
        raise BadRequest(f"{param} must be a string or a list of {noun}.", param)
    return content


def text_of(part: dict[str, Any], param: str) -> str:
    """A text part's text (`param` names the part)."""
    text = part.get("text")
    if not isinstance(text, str):
        raise BadRequest(f"{param}.text must be a string.", f"{param}.text")
    return text


def text_parts(
    content: Any, param: str, text_types: tuple[str, ...] = ("text",), dropped: Dropped | None = None
) -> list[dict[str, Any]]:
    """Text-only content (system, developer and assistant turns) as Gemini text parts:
    parts of `text_types` and refusals (an assistant's earlier refusal is its text).
    With `dropped`, a part of another type is left out and named there (forward
    compatibility) instead of refused; a part that is not a typed object still is."""
    parts = []
    for j, part in enumerate(listed(content, param, text_types[0])):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in text_types:
            text = text_of(part, where)
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            text = part["refusal"]
        elif dropped is not None and isinstance(kind, str) and kind:
            dropped.add(where, kind)
            continue
        else:
            raise BadRequest(f"{where} has the type {kind!r}; only text is allowed here.", f"{where}.type")
        if text:
            parts.append({"text": text})
    return parts
