"""POST /audio/speech -> a Gemini TTS model (generateContent with AUDIO output).

- `model`: MODEL_ALIASES first; a `gemini-...` name passes as it is; any other name
  (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`, ...) means TTS_MODEL, so OpenAI clients work
  without configuration.
- `voice`: OpenAI's voice names map to Gemini prebuilt voices of a similar character
  (VOICES); Gemini's 30 voice names are taken in any case; `{"id": ...}` the same way.
  Anything else is a 400 that lists both.
- `instructions` (gpt-4o-mini-tts): Gemini TTS takes its style direction in the text
  itself ("Say cheerfully: ..."), so they go in front of the input, followed by a colon.
- `speed`: Gemini TTS has no speed setting, and changing the samples' rate would change
  the pitch too: 1.0 (or absent) is accepted, anything else is a 400 that suggests
  asking for the pace in `instructions` instead.
- `response_format`: mp3 (default), wav, pcm (see handler/audio.py); opus, aac, flac
  and anything else: 400 naming the supported ones. `stream_format: "sse"`: 400.
- The answer is the whole file (Gemini's generateContent), not a stream.
"""

from __future__ import annotations

import asyncio
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..config import Settings
from ..encoding import json_bytes
from ..errors import BadRequest, UpstreamFailed
from ..state import settings_of
from ..translate import calls
from ..translate.answers import blocked_text
from ..translate.families import resolve_family
from ..translate.models import alias
from . import audio

MAX_INPUT = 4096  # characters, OpenAI's own limit

GEMINI_VOICES = {
    name.lower(): name
    for name in (
        "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
        "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi",
        "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird",
        "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
    )
}  # fmt: skip
# OpenAI voice -> the Gemini voice nearest in register and tone (Google's descriptions).
VOICES = {
    "alloy": "Zephyr",  # neutral, bright
    "ash": "Orus",  # firm male
    "ballad": "Enceladus",  # soft, breathy male
    "coral": "Aoede",  # warm, breezy female
    "echo": "Iapetus",  # clear male
    "fable": "Puck",  # upbeat, expressive
    "onyx": "Charon",  # deep, informative male
    "nova": "Kore",  # firm, bright female
    "sage": "Leda",  # youthful, calm
    "shimmer": "Despina",  # smooth female
    "verse": "Fenrir",  # lively
    "marin": "Sulafat",  # warm female
    "cedar": "Achird",  # friendly male
}


@dataclass
class SpeechCall:
    model: str
    payload: dict[str, Any]
    fmt: str


def speech_model(name: Any, settings: Settings) -> str:
    model = name.strip().removeprefix("models/") if isinstance(name, str) else ""
    model = alias(model, settings) or model
    return model if model.startswith("gemini-") else settings.tts_model


def voice_name(value: Any) -> str:
    """The Gemini prebuilt voice for OpenAI's `voice` (a name or `{"id": name}`)."""
    if isinstance(value, dict):
        value = value.get("id")
    name = value.strip().lower() if isinstance(value, str) else ""
    if name in VOICES:
        return VOICES[name]
    if name in GEMINI_VOICES:
        return GEMINI_VOICES[name]
    shown = repr(value)[:60] if value is not None else "missing"
    raise BadRequest(
        f"voice {shown} is not available. Use an OpenAI voice ({', '.join(VOICES)}) "
        f"or a Gemini voice ({', '.join(GEMINI_VOICES.values())}).",
        "voice",
    )


def _format(value: Any) -> str:
    fmt = "mp3" if value is None else value
    if fmt in audio.CONTENT_TYPES:
        return fmt
    why = " (no small encoder for it in this proxy)" if fmt in audio.UNSUPPORTED else ""
    raise BadRequest(
        f"response_format {str(fmt)[:40]!r} is not supported{why}; supported: {', '.join(audio.CONTENT_TYPES)}.",
        "response_format",
    )


def _check_speed(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.25 <= value <= 4.0:
        raise BadRequest("speed must be a number from 0.25 to 4.0.", "speed")
    if value != 1:
        raise BadRequest(
            "speed other than 1.0 is not supported: Gemini TTS has no speed setting. "
            "Ask for the pace in 'instructions' instead (for example 'Speak quickly').",
            "speed",
        )


def to_gemini(body: dict[str, Any], settings: Settings) -> SpeechCall:
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("input is required: the text to speak.", "input")
    if len(text) > MAX_INPUT:
        raise BadRequest(f"input may be at most {MAX_INPUT} characters, not {len(text)}.", "input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequest("instructions must be a string.", "instructions")
    voice = voice_name(body.get("voice"))
    _check_speed(body.get("speed"))
    fmt = _format(body.get("response_format"))
    if body.get("stream_format") not in (None, "audio"):
        raise BadRequest("stream_format must be 'audio': this proxy sends the whole audio file.", "stream_format")
    if instructions and instructions.strip():
        text = f"{instructions.strip().rstrip(':')}:\n{text}"
    payload = {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        },
    }
    return SpeechCall(speech_model(body.get("model"), settings), payload, fmt)


def pcm_of(data: Any) -> tuple[bytes, int] | None:
    """The audio of a generateContent answer (all audio parts, in order) and its rate."""
    chunks: list[bytes] = []
    rate = audio.GEMINI_RATE
    for candidate in (data.get("candidates") or [])[:1]:
        for part in (candidate.get("content") or {}).get("parts") or []:
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("audio/"):
                # a2b_base64 reads the str in place (b64decode would copy it to bytes first).
                chunks.append(binascii.a2b_base64(blob.get("data") or ""))
                rate = audio.sample_rate(blob["mimeType"])
    return (b"".join(chunks), rate) if chunks else None


async def create(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    call = to_gemini(await calls.read_json(request), settings_of(request.scope))
    call.model = await resolve_family(request.scope, creds, call.model)  # TTS_MODEL may name a family
    path = f"/v1beta/models/{quote(call.model, safe='')}:generateContent"
    data, headers = await calls.call_json(request, "POST", path, json_bytes(call.payload), creds, call.model)
    try:
        found = pcm_of(data) if isinstance(data, dict) else None
    except (AttributeError, TypeError, binascii.Error):
        found = None
    if found is None:
        blocked = blocked_text(data) if isinstance(data, dict) else None
        if blocked:
            raise BadRequest(blocked, "input", code="content_policy_violation", headers=headers)
        raise UpstreamFailed("The Gemini API answered without audio.", headers=headers)
    pcm, rate = found
    # LAME releases the GIL: in a thread, a minute of speech (~0.1 s) does not stall other requests.
    encoded = await asyncio.to_thread(audio.encode, pcm, rate, call.fmt)
    return Response(encoded, headers=headers, media_type=audio.CONTENT_TYPES[call.fmt])
