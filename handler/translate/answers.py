"""Reading a Gemini answer the same way in every protocol."""

from __future__ import annotations

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
