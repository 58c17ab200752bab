"""POST /audio/speech -> Gemini TTS (generateContent, or streamGenerateContent when the
answer streams). What is asked of Gemini: speech_request.py; the formats: audio.py;
the streamed answer: speech_stream.py.

A whole answer (mp3 without `stream_format`) calls Gemini once per piece of the text,
the pieces at once, and encodes their samples joined. Gemini's audio is read from the
answer as it is, whatever the model: a WAV file (a unary 3.8 TTS answer) is unwrapped
after its header is checked, anything else is taken as the PCM its mimeType names. An
answer without audio, with empty audio or audio no format here can carry is a 502
(Gemini's answer is wrong); a blocked prompt is OpenAI's 400 `content_policy_violation`.
"""

from __future__ import annotations

import asyncio
import binascii
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..affinity import binding as affinity
from ..catalog.families import resolve_family
from ..errors import BadRequest, UpstreamFailed
from ..keys.credentials import Credentials
from ..state import settings_of
from ..translate import calls
from ..translate.answers import blocked_text
from . import audio, speech_request
from .speech_request import Shape, SpeechRequest


def audio_of(data: Any) -> tuple[bytes, int] | None:
    """The samples of a Gemini answer or stream event (all its audio parts, in order)
    and their rate; None when it holds no audio part. BadAudio when the audio is wrong."""
    if not isinstance(data, dict):
        return None
    chunks: list[bytes] = []
    rate = None
    for candidate in (data.get("candidates") or [])[:1]:
        for part in (candidate.get("content") or {}).get("parts") or []:
            blob = part.get("inlineData") if isinstance(part, dict) else None
            mime = str(blob.get("mimeType", "")) if isinstance(blob, dict) else ""
            if not mime.startswith("audio/"):
                continue
            try:  # a2b_base64 reads the str in place (b64decode would copy it to bytes first)
                raw = binascii.a2b_base64(blob.get("data") or "")  # type: ignore[union-attr]
            except (binascii.Error, TypeError, ValueError):
                raise audio.BadAudio("Gemini sent audio that is not base64.") from None
            if audio.is_wav(raw) or mime.startswith(("audio/wav", "audio/x-wav", "audio/wave")):
                pcm, found = audio.unwrap_wav(raw)
            else:
                pcm, found = raw, audio.sample_rate(mime)
            if rate is not None and found != rate:
                raise audio.BadAudio(f"Gemini sent audio at two sample rates ({rate} and {found}).")
            rate = found
            chunks.append(pcm)
    return (b"".join(chunks), rate) if rate is not None else None


def usage_of(data: Any) -> tuple[int, int]:
    """(input tokens, output tokens) of one answer or event."""
    meta = data.get("usageMetadata") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return 0, 0
    prompt, answer = meta.get("promptTokenCount"), meta.get("candidatesTokenCount")
    return (prompt if isinstance(prompt, int) else 0), (answer if isinstance(answer, int) else 0)


async def bodies(
    request: Request, call: SpeechRequest, creds: Credentials, shape: Shape
) -> tuple[list[bytes], Credentials]:
    """One Gemini body per piece, with a stored voice made Google's and the keys narrowed
    to the project that stores it (affinity)."""
    out = []
    for piece in call.pieces:
        body, creds = await affinity.for_body(
            request.scope, creds, calls.upstream_body(speech_request.payload(call, piece, shape))
        )
        out.append(body)
    return out, creds


def path_of(model: str, streamed: bool) -> str:
    name = quote(model, safe="")
    return (
        f"/v1beta/models/{name}:streamGenerateContent?alt=sse" if streamed else f"/v1beta/models/{name}:generateContent"
    )


async def _whole(request: Request, call: SpeechRequest, creds: Credentials, shape: Shape) -> Response:
    posts, creds = await bodies(request, call, creds, shape)
    path = path_of(call.model, streamed=False)
    answers, headers = await calls.call_many(request, [(path, body) for body in posts], creds, call.model)
    pcm: list[bytes] = []
    rate = None
    try:
        for data in answers:
            found = audio_of(data)
            if found is None:
                blocked = blocked_text(data) if isinstance(data, dict) else None
                if blocked:
                    raise BadRequest(blocked, "input", code="content_policy_violation", headers=headers)
                raise UpstreamFailed("The Gemini API answered without audio.", headers=headers)
            if rate is not None and found[1] != rate:
                raise audio.BadAudio(f"Gemini sent the pieces at two sample rates ({rate} and {found[1]}).")
            pcm.append(found[0])
            rate = found[1]
        assert rate is not None
        # LAME releases the GIL: in a thread, a minute of speech (~0.1 s) does not stall other requests.
        encoded = await asyncio.to_thread(audio.encode, b"".join(pcm), rate, call.fmt)
    except audio.BadAudio as exc:
        raise UpstreamFailed(str(exc), headers=headers) from None
    except (AttributeError, TypeError, KeyError):
        raise UpstreamFailed(calls.UNEXPECTED, headers=headers) from None
    return Response(encoded, headers=headers, media_type=audio.CONTENT_TYPES[call.fmt])


async def create(request: Request) -> Response:
    from .speech_stream import SpeechStream  # only streamed answers need it

    creds = await calls.credentials_of(request)
    call = speech_request.parse(await calls.read_json(request), settings_of(request.scope))
    call.model = await resolve_family(request.scope, creds, call.model)  # TTS_MODEL may name a family
    known = speech_request.shape_of(call.model)
    if call.stream:
        return SpeechStream(request, call, creds, known)  # type: ignore[return-value]
    try:
        return await _whole(request, call, creds, known or "current")
    except UpstreamFailed as exc:
        if known is not None or exc.status != 400 or not speech_request.refused_current_shape(exc.message):
            raise
    speech_request.learn_legacy(call.model)  # an older TTS model by another name
    return await _whole(request, call, creds, "legacy")
