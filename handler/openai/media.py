"""OpenAI content parts that carry media -> Gemini parts.

STUB: only data URLs. To be replaced (see the OpenAI issue): https URLs fetched with an
SSRF guard, YouTube and Files API URIs as fileData.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import Settings
from .common import BadRequest

_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w=.-]+)*;base64,(?P<data>.*)", re.S)


async def url_part(url: str, settings: Settings, param: str) -> dict[str, Any]:
    """A Gemini part for an image/audio/file URL (data URL or https)."""
    match = _DATA_URL.fullmatch(url or "")
    if not match:
        raise BadRequest("Only data URLs are supported for now.", param)
    return {"inlineData": {"mimeType": match["mime"], "data": match["data"]}}
