"""An OpenAI speech request (`POST /audio/speech`) -> the Gemini TTS request(s) to send.

- `model`: MODEL_ALIASES first; a `gemini-...` name passes as it is; any other name
  (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`, ...) means TTS_MODEL, so OpenAI clients work
  without configuration.
- `voice`: OpenAI's voice names map to Gemini prebuilt voices of a similar character
  (VOICES); Gemini's 30 voice names are taken in any case; `voice_...` (a designed or
  replicated voice stored in a project: it follows its key, see docs/affinity.md) and
  `voicekey_...` (a stateless key) IDs pass as they are, as a string or as OpenAI's
  custom-voice object `{"id": ...}`. Anything else is a 400 that lists the names.
- **Two request shapes**, chosen by the model (`shape_of`):
  - Gemini 3.8 TTS and later ("current"): the text is read verbatim, so `instructions`
    go in the part's `speechMetadata.style`, never into the text; the voice goes in
    `speechConfig.voiceConfig.voice`. No sampling parameters are sent (3.8 refuses them).
  - older TTS models (2.5, 3.1 preview: "legacy") keep the shape they take: the style
    in front of the text ("Speak slowly: ..."), the voice in `prebuiltVoiceConfig`;
    they cannot use stored voices (a 400 says so).
  - a name no version can be read from (an alias target such as `gemini-flash-tts-latest`)
    is sent the current shape, and if Gemini refuses its fields as unknown the call is
    sent again in the legacy shape, which is then remembered for that model
    (`learn_legacy`; per container, bounded).
- `speed`: Gemini TTS has no speed setting, and changing the samples' rate would change
  the pitch too: 1.0 (or absent) is accepted, anything else is a 400 that suggests
  asking for the pace in `instructions` instead.
- `response_format`: mp3 (default), wav, pcm (see audio.py); opus, aac, flac and
  anything else (a list or an object included): 400 naming the supported ones.
- `stream_format`: "sse" streams OpenAI's `speech.audio.delta` / `speech.audio.done`
  events; "audio" streams the audio body as it arrives. Without it, pcm and wav stream
  too (their bytes are final as they come); mp3 is answered whole, so that it starts
  with the frame that lets decoders drop LAME's delay and padding (see audio.py).
- Long input: up to MAX_PIECES calls' worth (MAX_INPUT characters). Text longer than
  PIECE_CHARS is split at sentence boundaries (`split`), each piece one Gemini call with
  the same voice and style, the pieces' samples joined end to end.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from ..config import Settings
from ..errors import BadRequest
from ..translate.models import alias
from ..translate.thinking import gemini_version
from . import audio

PIECE_CHARS = 4096  # one Gemini call's text: OpenAI's own per-call limit
MAX_PIECES = 4  # the request's budget: at most this many calls
MAX_INPUT = PIECE_CHARS * MAX_PIECES  # at most 2 * MAX_PIECES + 1 pieces (greedy packing)
MAX_INSTRUCTIONS = 4096  # OpenAI's own limit
CURRENT_FROM = (3, 8)  # the first TTS version with the current request shape
MAX_LEARNED = 256

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
STORED_VOICE = re.compile(r"voice_[A-Za-z0-9_-]{1,200}")
VOICE_KEY = re.compile(r"voicekey_[A-Za-z0-9_.+/=-]{1,16384}")
STREAM_FORMATS = ("audio", "sse")
# A sentence ends at . ! ? ; or an ellipsis before a space, or at a CJK full stop, with
# closing quotes and brackets kept on its side.
_SENTENCE_END = re.compile(
    r"(?<=[.!?;\u2026])[\"'\u201d\u2019)\]]*\s+|(?<=[\u3002\uff01\uff1f])[\"'\u201d\u2019\u300d\u300f)\]]*\s*"
)

Shape = Literal["current", "legacy"]


@dataclass
class SpeechRequest:
    model: str
    pieces: list[str]
    voice: str  # a prebuilt name, or a voice_... / voicekey_... ID
    style: str | None
    fmt: str
    stream: str | None  # None: the whole file; "audio": the body as it comes; "sse": events

    @property
    def stored_voice(self) -> bool:
        return self.voice.startswith(("voice_", "voicekey_"))


# Shapes --------------------------------------------------------------------------------

_learned: OrderedDict[str, Shape] = OrderedDict()


def shape_of(model: str) -> Shape | None:
    """The request shape for `model`: from its version, else what was learned, else None."""
    version = gemini_version(model)
    if version is not None:
        return "current" if version >= CURRENT_FROM else "legacy"
    return _learned.get(model)


def learn_legacy(model: str) -> None:
    _learned[model] = "legacy"
    _learned.move_to_end(model)
    if len(_learned) > MAX_LEARNED:
        _learned.popitem(last=False)


def refused_current_shape(message: str) -> bool:
    """Whether Gemini's 400 says it does not know the current shape's fields."""
    text = message.lower()
    return ("unknown name" in text or "cannot find field" in text) and (
        "speech_metadata" in text or "speechmetadata" in text or '"voice"' in text or "voice_config.voice" in text
    )


def payload(request: SpeechRequest, text: str, shape: Shape) -> dict[str, Any]:
    """One Gemini generateContent body for one piece of the text."""
    part: dict[str, Any] = {"text": text}
    if shape == "current":
        if request.style:
            part["speechMetadata"] = {"style": request.style}
        voice_config: dict[str, Any] = {"voice": request.voice}
    else:
        if request.stored_voice:
            raise BadRequest(
                f"{request.model} cannot use stored voices or voice keys; use a Gemini 3.8 TTS model "
                "or a prebuilt voice.",
                "voice",
            )
        if request.style:
            part["text"] = f"{request.style.rstrip(':')}:\n{text}"
        voice_config = {"prebuiltVoiceConfig": {"voiceName": request.voice}}
    return {
        "contents": [{"role": "user", "parts": [part]}],
        "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": voice_config}},
    }


# Parsing -------------------------------------------------------------------------------


def speech_model(name: Any, settings: Settings) -> str:
    model = name.strip().removeprefix("models/") if isinstance(name, str) else ""
    model = alias(model, settings) or model
    return model if model.startswith("gemini-") else settings.tts_model


def voice_name(value: Any) -> str:
    """The Gemini voice for OpenAI's `voice` (a name, an ID, or `{"id": ...}`)."""
    if isinstance(value, dict):
        value = value.get("id")
    text = value.strip() if isinstance(value, str) else ""
    if STORED_VOICE.fullmatch(text) or VOICE_KEY.fullmatch(text):
        return text
    name = text.lower()
    if name in VOICES:
        return VOICES[name]
    if name in GEMINI_VOICES:
        return GEMINI_VOICES[name]
    shown = repr(value)[:60] if value is not None else "missing"
    raise BadRequest(
        f"voice {shown} is not available. Use an OpenAI voice ({', '.join(VOICES)}), "
        f"a Gemini voice ({', '.join(GEMINI_VOICES.values())}), or a stored voice ID (voice_...).",
        "voice",
    )


def _format(value: Any) -> str:
    fmt = "mp3" if value is None else value
    if isinstance(fmt, str) and fmt in audio.CONTENT_TYPES:
        return fmt
    shown = repr(fmt)[:40] if isinstance(fmt, str) else f"of type {type(fmt).__name__}"
    why = " (no small encoder for it in this proxy)" if fmt in audio.UNSUPPORTED else ""
    raise BadRequest(
        f"response_format {shown} cannot be encoded by this proxy{why}; it encodes: {', '.join(audio.CONTENT_TYPES)}.",
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


def _stream_format(value: Any, fmt: str) -> str | None:
    if value is None:
        return "audio" if fmt in ("pcm", "wav") else None
    if isinstance(value, str) and value in STREAM_FORMATS:
        return value
    raise BadRequest("stream_format must be 'audio' or 'sse'.", "stream_format")


def split(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut after a sentence where one
    ends in time, else at the last space, else hard."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit), default=0)
        if not cut:
            space = window.rfind(" ", 0, limit)
            cut = space + 1 if space > 0 else limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece]


def parse(body: dict[str, Any], settings: Settings) -> SpeechRequest:
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("input is required: the text to speak.", "input")
    if len(text) > MAX_INPUT:
        raise BadRequest(
            f"input may be at most {MAX_INPUT} characters ({MAX_PIECES} Gemini calls), not {len(text)}.", "input"
        )
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequest("instructions must be a string.", "instructions")
    if instructions and len(instructions) > MAX_INSTRUCTIONS:
        raise BadRequest(f"instructions may be at most {MAX_INSTRUCTIONS} characters.", "instructions")
    voice = voice_name(body.get("voice"))
    _check_speed(body.get("speed"))
    fmt = _format(body.get("response_format"))
    stream = _stream_format(body.get("stream_format"), fmt)
    style = instructions.strip() if instructions and instructions.strip() else None
    return SpeechRequest(speech_model(body.get("model"), settings), split(text), voice, style, fmt, stream)
