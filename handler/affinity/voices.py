"""Stored voices (`voice_...` from the Voices API) follow their project, as files do.

A stored voice belongs to the project of the key that created it (at most 200 per
project); `voicekey_...` keys are self-contained and go with any key. A voice ID is no
`kind/id` name: it is bare, so besides the path (`/v1beta/voices/voice_...`, in
binding.CORE) it is found by its field: `"voice": "voice_..."` (a TTS call's
`speechConfig.voiceConfig.voice`, native or built by /audio/speech) and a CreateVoice's
base voice on the way in; the same fields and `"id"` in the Voices API's answers on the
way out, where it gets the key's tag like any resource name (docs/affinity.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = b'"voice_'  # a cheap test first: most bodies name no voice
_ID = rb"(voice_[A-Za-z0-9_-]+)"
REQUEST_FIELD = re.compile(rb'("(?:voice|baseVoice|base_voice)"\s*:\s*")' + _ID + rb'(")')
ANSWER_FIELD = re.compile(rb'("(?:id|voice|baseVoice|base_voice)"\s*:\s*")' + _ID + rb'(")')


def ids(body: bytes) -> list[str]:
    """The stored voice IDs a request body names."""
    return [m.group(2).decode() for m in REQUEST_FIELD.finditer(body)]


def replace(body: bytes, new_id: Callable[[bytes], bytes], pattern: re.Pattern[bytes] = REQUEST_FIELD) -> bytes:
    return pattern.sub(lambda m: m.group(1) + new_id(m.group(2)) + m.group(3), body)


def tag(body: bytes, key_tag: str) -> bytes:
    """A Voices API answer with the key's tag on every stored voice ID."""
    if MARKER not in body:
        return body
    suffix = key_tag.encode()
    return replace(body, lambda found: found + suffix, ANSWER_FIELD)
