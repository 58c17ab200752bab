"""The fake Gemini's speech: TTS calls in both request shapes, and the Voices API.

- Gemini 3.8 TTS and later ("current": a version of 3.8 or more, or a name ending in
  `-latest-tts`): refuses `temperature`/`topP`/`topK` (400, as 3.8 does), a voice that
  is no prebuilt name, no `voicekey_...` and no voice of the key's own project (404 for
  another project's), and a prebuilt name it does not know. A unary call answers a
  complete WAV file (`audio/wav`: RIFF header, 24 kHz mono 16-bit; `wav_extra` puts a
  LIST chunk before the samples, as other writers do, so the header is not 44 bytes).
- Older TTS models ("legacy": 2.5, 3.1, and any other name with `tts`): refuse the
  current shape's fields (`speechMetadata` in a part, `voiceConfig.voice`) with Gemini's
  "Unknown name" 400, and answer unary calls with raw PCM (fake_gemini.media_response).
- Streamed calls (`streamGenerateContent?alt=sse`) of either shape answer headerless
  PCM in CHUNKS events, `chunk_delay` seconds apart (recorded in fake.event_times; when
  each such call was answered in `streams_started`).
- Voices: `POST /v1beta/voices` (store true: a `voice_...` id kept in the key's
  project, at most VOICE_LIMIT; store false: a `voicekey_...`), `GET /v1beta/voices`
  (the project's voices), `GET`/`DELETE /v1beta/voices/{id}` (404 from another project).
Mounted by fake_gemini.FakeGemini (routes, reset, and `answer` on generate calls).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNKS = 6  # events in a streamed speech answer
VOICE_LIMIT = 200  # stored voices per project
PREBUILT = frozenset(
    (
        "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
        "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi",
        "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird",
        "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
    )
)  # fmt: skip
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


def current(model: str) -> bool:
    match = _VERSION.match(model)
    if match:
        return (int(match[1]), int(match[2] or 0)) >= (3, 8)
    return model.endswith("-latest-tts")


def wav(pcm: bytes, rate: int, extra: bool = False) -> bytes:
    """A real WAV file (what the 3.8 TTS models answer a unary call with)."""
    chunks = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    if extra:
        info = b"INFOISFT" + struct.pack("<I", 6) + b"Gemini"
        chunks += b"LIST" + struct.pack("<I", len(info)) + info
    chunks += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@dataclass
class Speech:
    fake: Any  # the FakeGemini
    chunk_delay: float = 0.0
    wav_extra: bool = False
    voices: dict[str, tuple[str, dict]] = field(default_factory=dict)  # id -> (key, voice)
    streams_started: list[float] = field(default_factory=list)  # when each streamed call was answered
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.chunk_delay = 0.0
        self.wav_extra = False
        self.voices.clear()
        self.streams_started.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/{version:str}/voices", self.create_voice, methods=["POST"]),
            Route("/{version:str}/voices", self.list_voices, methods=["GET"]),
            Route("/{version:str}/voices/{id:str}", self.voice, methods=["GET", "DELETE"]),
        ]

    # TTS ---------------------------------------------------------------------------------

    def answer(self, request: Request, method: str, model: str, payload: dict, key: str | None) -> Response | None:
        """The answer to a TTS generate call; None for any other call."""
        config = payload.get("generationConfig") or {}
        if "AUDIO" not in (config.get("responseModalities") or []) or method not in (
            "generateContent",
            "streamGenerateContent",
        ):
            return None
        refused = self._refused(model, payload, config, key)
        if refused is not None:
            return refused
        from .fake_gemini import SPEECH_RATE, media_response, pcm, usage

        if method == "generateContent" and current(model):
            data = base64.b64encode(wav(pcm(), SPEECH_RATE, self.wav_extra)).decode()
            part = {"inlineData": {"mimeType": "audio/wav", "data": data}}
            body = {
                "candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": usage(),
                "modelVersion": model,
                "responseId": "fake-response-id",
            }
            return Response(json.dumps(body, indent=2), media_type="application/json")
        if method == "generateContent":
            return Response(json.dumps(media_response(payload, model), indent=2), media_type="application/json")
        samples = pcm()
        step = -(-len(samples) // CHUNKS) // 2 * 2
        events = []
        for i, start in enumerate(range(0, len(samples), step)):
            blob = {
                "mimeType": f"audio/L16;codec=pcm;rate={SPEECH_RATE}",
                "data": base64.b64encode(samples[start : start + step]).decode(),
            }
            candidate: dict[str, Any] = {"content": {"parts": [{"inlineData": blob}], "role": "model"}, "index": 0}
            if start + step >= len(samples):
                candidate["finishReason"] = "STOP"
            events.append({"candidates": [candidate], "usageMetadata": usage(5, 10 * (i + 1)), "modelVersion": model})
        self.streams_started.append(time.monotonic())
        return StreamingResponse(self.fake._sse(events, self.chunk_delay, None), media_type="text/event-stream")

    def _refused(self, model: str, payload: dict, config: dict, key: str | None) -> Response | None:
        voice_config = (config.get("speechConfig") or {}).get("voiceConfig") or {}
        parts = [p for c in payload.get("contents") or [] for p in c.get("parts") or []]
        if not current(model):
            for i, part in enumerate(parts):
                if "speechMetadata" in part:
                    return error(
                        400,
                        "INVALID_ARGUMENT",
                        f'Invalid JSON payload received. Unknown name "speechMetadata" at '
                        f"'contents[0].parts[{i}]': Cannot find field.",
                    )
            if "voice" in voice_config:
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    'Invalid JSON payload received. Unknown name "voice" at '
                    "'generation_config.speech_config.voice_config': Cannot find field.",
                )
            return None
        for name in ("temperature", "topP", "topK"):
            if name in config:
                return error(400, "INVALID_ARGUMENT", f"{name} is not supported by {model}.")
        voice = voice_config.get("voice") or (voice_config.get("prebuiltVoiceConfig") or {}).get("voiceName")
        if not isinstance(voice, str) or not voice:
            return error(400, "INVALID_ARGUMENT", "speech_config.voice_config: a voice is required.")
        if voice.startswith("voice_"):
            found = self.voices.get(voice)
            if found is None or found[0] != key:
                return error(404, "NOT_FOUND", f"Voice {voice} not found.")
        elif not voice.startswith("voicekey_") and voice not in PREBUILT:
            return error(400, "INVALID_ARGUMENT", f"Voice name {voice} is not supported.")
        return None

    # Voices --------------------------------------------------------------------------------

    async def create_voice(self, request: Request) -> Response:
        item = await self.fake._record(request)
        if (denied := await self.fake._check_key(item)) is not None:
            return denied
        body = item.json or {}
        voice = body.get("voice")
        if not isinstance(voice, dict) or voice.get("type") not in ("prompted", "replicated"):
            return error(400, "INVALID_ARGUMENT", "voice.type must be prompted or replicated.")
        if not body.get("store", False):
            if voice["type"] == "prompted":
                return error(400, "INVALID_ARGUMENT", "store must be true for prompted voices.")
            return JSONResponse({**voice, "key": f"voicekey_{next(self.ids)}abc"})
        if sum(1 for owner, _ in self.voices.values() if owner == item.key) >= VOICE_LIMIT:
            return error(429, "RESOURCE_EXHAUSTED", f"Quota exceeded: at most {VOICE_LIMIT} stored voices.")
        ident = f"voice_{next(self.ids)}f{id(self) % 97}"
        stored = {**voice, "id": ident, "expireTime": "2027-12-07T00:00:00Z"}
        self.voices[ident] = (item.key or "", stored)
        return JSONResponse(stored)

    async def list_voices(self, request: Request) -> Response:
        item = await self.fake._record(request)
        if (denied := await self.fake._check_key(item)) is not None:
            return denied
        return JSONResponse({"voices": [v for owner, v in self.voices.values() if owner == item.key]})

    async def voice(self, request: Request) -> Response:
        item = await self.fake._record(request)
        if (denied := await self.fake._check_key(item)) is not None:
            return denied
        ident = request.path_params["id"]
        found = self.voices.get(ident)
        if found is None or found[0] != item.key:
            return error(404, "NOT_FOUND", f"Voice {ident} not found.")
        if request.method == "DELETE":
            del self.voices[ident]
            return JSONResponse({})
        return JSONResponse(found[1])
