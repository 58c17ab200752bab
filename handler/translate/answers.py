"""Reading a Gemini answer the same way in every protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Gemini's finish reasons that mean it stopped for safety or policy: every protocol
# reports them as its own "filtered / refused" reason.
SAFETY_STOPS = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY")


def blocked_text(data: dict[str, Any]) -> str | None:
    """The message for a prompt Gemini blocked (no candidates), or None if not blocked."""
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason")
    if not reason:
        return None
    detail = feedback.get("blockReasonMessage")
    return f"The prompt was blocked by Gemini (blockReason: {reason})." + (f" {detail}" if detail else "")


@dataclass(frozen=True, slots=True)
class Tokens:
    """Gemini's usageMetadata as every protocol counts it: the prompt includes the
    tool-use (search) prompt and the answer includes the thoughts, so that the two add
    up to what was billed; `cached` is the part of the prompt read from a cache."""

    prompt: int
    answer: int
    thoughts: int
    cached: int


def tokens(meta: dict[str, Any] | None) -> Tokens:
    meta = meta or {}
    thoughts = meta.get("thoughtsTokenCount", 0)
    return Tokens(
        prompt=meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0),
        answer=meta.get("candidatesTokenCount", 0) + thoughts,
        thoughts=thoughts,
        cached=meta.get("cachedContentTokenCount", 0),
    )
