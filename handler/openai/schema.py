"""JSON Schema (as OpenAI clients send it) -> the schema form Gemini accepts.

STUB: returns the schema unchanged. To be replaced (see the OpenAI issue).
"""

from __future__ import annotations

from typing import Any


def to_gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema for Gemini's `parameters` / `responseSchema` (OpenAPI subset)."""
    return schema
