"""POST /audio/speech over real HTTP with the openai SDK, in every supported format,
whole and streamed.

The fake Gemini speaks SPEECH_SECONDS of a real 440 Hz tone as 24 kHz PCM: a unary
3.8 TTS call answers it as a WAV file, an older model's as raw PCM, a streamed call as
PCM chunks (tests/fake_speech.py). The returned bytes are decoded (wave for WAV,
miniaudio's real MP3 decoder for MP3) and compared with it in format, sample count and
content.
"""

from __future__ import annotations

import array
import base64
import io
import json
import math
import struct
import time
import wave

import httpx
import miniaudio
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handler.openai import audio, speech
from handler.openai.speech_request import split

from ..clients import openai_client as client
from ..conftest import KEY_A
from ..core.test_lambda_events import Context, body_of, function_url, lambda_handler  # noqa: F401 (a fixture)
from ..fake_gemini import SPEECH_RATE, SPEECH_SECONDS, pcm, text_response

DEFAULT_PATH = "/v1beta/models/gemini-3.8-flash-tts:generateContent"
STREAM_PATH = "/v1beta/models/gemini-3.8-flash-tts:streamGenerateContent"
SAMPLES = int(SPEECH_SECONDS * SPEECH_RATE)


def speak(base: str, **kwargs) -> bytes:
    params = {"model": "tts-1", "voice": "alloy", "input": "Hello there", **kwargs}
    return client(base).audio.speech.create(**params).content


def current_body(text: str = "Hello there", voice: str = "Zephyr", style: str | None = None) -> dict:
    """The Gemini 3.8 TTS request: text verbatim, style beside it, the voice by name."""
    part: dict = {"text": text}
    if style:
        part["speechMetadata"] = {"style": style}
    return {
        "contents": [{"role": "user", "parts": [part]}],
        "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": {"voice": voice}}},
    }


def legacy_body(text: str = "Hello there", voice: str = "Zephyr") -> dict:
    return {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        },
    }


def tone_level(samples: array.array, start: int, size: int = 2400) -> float:
    """How strongly a stretch of samples holds the fake's 440 Hz tone (0 for silence or noise)."""
    part = samples[start : start + size]
    sin = sum(v * math.sin(2 * math.pi * 440 * i / SPEECH_RATE) for i, v in enumerate(part))
    cos = sum(v * math.cos(2 * math.pi * 440 * i / SPEECH_RATE) for i, v in enumerate(part))
    return 2 * math.hypot(sin, cos) / len(part)


def mp3_samples(data: bytes) -> array.array:
    decoded = miniaudio.mp3_read_s16(data)  # as encoded: no resampling or channel mixing
    assert (decoded.sample_rate, decoded.nchannels) == (SPEECH_RATE, 1)
    return decoded.samples


def wav_samples(data: bytes) -> bytes:
    """The samples of a WAV file read with the stdlib (a streamed one says its size is unknown)."""
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SPEECH_RATE)
        return wav.readframes(wav.getnframes())


def assert_same_tone(samples: array.array, repeats: int = 1) -> None:
    """Decoded MP3 samples line up with the fake's tone (amplitude 8000): no lost or extra
    samples at the start, and none of the WAV header's bytes played as sound."""
    original = array.array("h", pcm() * repeats)
    assert len(samples) == len(original)
    for start in (0, len(original) // 2, len(original) - 2400):
        diff = math.sqrt(sum((samples[i] - original[i]) ** 2 for i in range(start, start + 2400)) / 2400)
        assert diff < 1200, (start, diff)  # LAME at 64 kbit/s: a few hundred; a shift of one sample: ~1000


# Whole answers ---------------------------------------------------------------------------


def test_default_mp3_has_exactly_the_samples_gemini_sent(proxy, fake):
    response = client(proxy + "/v1").audio.speech.create(model="tts-1", voice="alloy", input="Hello there")
    assert response.response.headers["content-type"] == "audio/mpeg"
    samples = mp3_samples(response.content)  # the Info frame lets the decoder trim LAME's delay and padding
    assert_same_tone(samples)
    assert tone_level(samples, SPEECH_RATE // 2) == pytest.approx(8000, rel=0.15)
    (call,) = fake.generate_calls
    assert call.path == DEFAULT_PATH and call.key == KEY_A
    assert call.json == current_body()


def test_wav_header_is_read_not_assumed(proxy, fake):
    fake.speech.wav_extra = True  # a LIST chunk before the samples: the header is not 44 bytes
    samples = mp3_samples(speak(proxy))
    assert_same_tone(samples)


def test_instructions_go_to_speech_metadata_on_3_8(proxy, fake):
    speak(proxy, model="gpt-4o-mini-tts", voice="nova", instructions="Speak slowly and warmly:")
    (call,) = fake.generate_calls
    assert call.json == current_body(voice="Kore", style="Speak slowly and warmly:")
    assert "slowly" not in call.json["contents"][0]["parts"][0]["text"]


def test_older_tts_model_keeps_its_shape(proxy, fake):
    data = speak(
        proxy,
        model="gemini-2.5-pro-preview-tts",
        voice="sadaltager",
        instructions="Speak slowly and warmly:",
        speed=1.0,
    )
    assert_same_tone(mp3_samples(data))  # raw PCM from the older model
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-pro-preview-tts:generateContent"
    assert call.json == legacy_body("Speak slowly and warmly:\nHello there", "Sadaltager")


def test_unknown_model_name_learns_its_shape_from_the_answer(start_proxy, fake):
    url = start_proxy(MODEL_ALIASES="tts-classic=gemini-tts-classic,tts-new=gemini-flash-latest-tts")
    assert_same_tone(mp3_samples(speak(url, model="tts-classic", instructions="Whisper")))
    refused, sent = fake.generate_calls
    assert refused.json == current_body(style="Whisper")
    assert sent.json == legacy_body("Whisper:\nHello there")
    fake.received.clear()
    speak(url, model="tts-classic", response_format="pcm")  # remembered: one call
    assert [c.json for c in fake.generate_calls] == [legacy_body()]
    fake.received.clear()
    speak(url, model="tts-new")  # a current model by a name without a version: one call
    assert [c.json for c in fake.generate_calls] == [current_body()]
    fake.received.clear()
    assert speak(url, model="gemini-tts-older", response_format="pcm") == pcm()  # learned on a stream too
    refused, sent = fake.generate_calls
    assert refused.path == sent.path == "/v1beta/models/gemini-tts-older:streamGenerateContent"
    assert (refused.json, sent.json) == (current_body(), legacy_body())


def test_voice_ids_and_the_tts_model_setting(start_proxy, fake):
    url = start_proxy(TTS_MODEL="gemini-3.8-flash-lite-tts", MODEL_ALIASES="tts-1-hd=gemini-3.1-flash-tts-preview")
    speak(url, model="gpt-4o-mini-tts", voice={"id": "voicekey_QUJD-ZGVm.x"})
    speak(url, model="tts-1-hd", voice="Charon")
    first, second = fake.generate_calls
    assert first.path == "/v1beta/models/gemini-3.8-flash-lite-tts:generateContent"
    assert first.json == current_body(voice="voicekey_QUJD-ZGVm.x")
    assert second.path == "/v1beta/models/gemini-3.1-flash-tts-preview:generateContent"
    assert second.json == legacy_body(voice="Charon")
    with pytest.raises(openai.BadRequestError) as info:  # an older model cannot use stored voices
        speak(url, model="tts-1-hd", voice="voice_abc123")
    assert info.value.body["param"] == "voice" and "3.8" in info.value.body["message"]


@pytest.mark.parametrize("prefix", ["", "/v1", "/openai/v1", "/hf/v1"])
def test_every_prefix(proxy, fake, prefix):
    r = httpx.post(
        proxy + prefix + "/audio/speech",
        json={"model": "tts-1", "voice": "echo", "input": "hi", "response_format": "pcm"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.content == pcm()
    assert [c.path for c in fake.generate_calls] == [STREAM_PATH]  # after the model list, read once


def test_long_input_is_split_at_sentences_and_joined(proxy, fake):
    sentence = "The quick brown fox jumps over the lazy dog again. "
    text = sentence * 100  # 5100 characters: two calls
    samples = mp3_samples(speak(proxy, input=text, instructions="Calm"))
    assert_same_tone(samples, repeats=2)  # one continuous file: no gap, no second delay
    first, second = fake.generate_calls
    sent = [c.json["contents"][0]["parts"][0] for c in (first, second)]
    assert all(part["speechMetadata"] == {"style": "Calm"} for part in sent)
    assert all(part["text"].endswith("dog again.") for part in sent)  # cut after a sentence
    assert len(sent[0]["text"]) <= 4096 and (sent[0]["text"] + " " + sent[1]["text"] + " ") == text
    fake.received.clear()
    fake.speech.chunk_delay = 0.15
    assert speak(proxy, input=text, response_format="pcm") == pcm() * 2  # streamed: in order
    first, second = fake.speech.streams_started
    # The second piece was asked for while the first still played: the first takes 5 gaps.
    assert second - first < 5 * 0.15


@pytest.mark.parametrize(
    "text, ends",
    [
        ("你好世界。" * 1000, "。"),  # CJK: no space after the full stop
        ('He said "stop." Then he left. ' * 300, ('stop."', "left.")),  # the quote stays with its sentence
        ("x" * 9000, "x"),  # no sentence end, no space: cut hard
    ],
)
def test_split_keeps_sentences_whole(text, ends):
    pieces = split(text)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) >= 2
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(p.endswith(ends) for p in pieces)


# Streamed answers -------------------------------------------------------------------------


def arrivals(proxy: str, **kwargs) -> tuple[httpx.Headers, list[tuple[float, bytes]]]:
    """The streamed body's chunks with their arrival times, through the SDK."""
    params = {"model": "tts-1", "voice": "alloy", "input": "Hello there", **kwargs}
    chunks = []
    with client(proxy).audio.speech.with_streaming_response.create(**params) as response:
        for chunk in response.iter_bytes():
            chunks.append((time.monotonic(), chunk))
        return response.headers, chunks


@pytest.mark.parametrize(
    "fmt, stream_format", [("pcm", None), ("wav", None), ("mp3", "audio"), ("pcm", "audio"), ("wav", "audio")]
)
def test_streamed_audio_arrives_before_gemini_ends(proxy, fake, fmt, stream_format):
    fake.speech.chunk_delay = 0.15
    extra = {"stream_format": stream_format} if stream_format else {}
    headers, chunks = arrivals(proxy, response_format=fmt, **extra)
    assert chunks[0][0] < fake.event_times[-1]  # the first audio before the fake sent its last chunk
    assert headers["content-type"] == {"pcm": "audio/pcm", "wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
    data = b"".join(chunk for _, chunk in chunks)
    if fmt == "pcm":
        assert data == pcm()
    elif fmt == "wav":
        assert data[:4] == b"RIFF" and wav_samples(data) == pcm()
    else:  # a streamed MP3 cannot announce its padding: LAME's delay and up to two frames more
        samples = mp3_samples(data)
        assert SAMPLES <= len(samples) <= SAMPLES + 1105 + 2 * 576
        assert tone_level(samples, SPEECH_RATE // 2) == pytest.approx(8000, rel=0.15)
    (call,) = fake.generate_calls
    assert call.path == STREAM_PATH and call.query == {"alt": "sse"}


def sse_events(proxy: str, **kwargs) -> list[tuple[float, dict]]:
    params = {"model": "tts-1", "voice": "alloy", "input": "Hello there", "stream_format": "sse", **kwargs}
    events = []
    with client(proxy).audio.speech.with_streaming_response.create(**params) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append((time.monotonic(), json.loads(line[6:])))
    return events


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3"])
def test_sse_deltas_arrive_before_gemini_ends(proxy, fake, fmt):
    fake.speech.chunk_delay = 0.15
    events = sse_events(proxy, response_format=fmt)
    deltas = [e for _, e in events if e["type"] == "speech.audio.delta"]
    assert events[0][0] < fake.event_times[-1] and events[0][1]["type"] == "speech.audio.delta"
    assert len(deltas) >= 3
    done = events[-1][1]
    assert done == {"type": "speech.audio.done", "usage": {"input_tokens": 5, "output_tokens": 60, "total_tokens": 65}}
    data = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    if fmt == "pcm":
        assert data == pcm()
    elif fmt == "wav":
        assert wav_samples(data) == pcm()
    else:
        assert SAMPLES <= len(mp3_samples(data)) <= SAMPLES + 1105 + 2 * 576


def test_sse_heartbeats_while_gemini_is_slow_to_answer(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.7
    body = {"voice": "alloy", "input": "hi", "response_format": "pcm", "stream_format": "sse"}
    r = httpx.post(url + "/v1/audio/speech", json=body, headers={"authorization": f"Bearer {KEY_A}"}, timeout=10)
    assert r.status_code == 200
    blocks = r.text.split("\n\n")
    assert blocks[0] == ": keep-alive" and blocks[1] == ": keep-alive"  # before Gemini answered
    events = [json.loads(b[6:]) for b in blocks if b.startswith("data: ")]
    audio_bytes = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert audio_bytes == pcm() and events[-1]["type"] == "speech.audio.done"


def test_streamed_errors_before_and_after_the_commit(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"  # before any audio: Gemini's status, in OpenAI's shape
    with pytest.raises(openai.RateLimitError) as info:
        sse_events(proxy)
    assert info.value.response.headers["retry-after"] == "7"
    fake.keys.clear()
    bad = {"inlineData": {"mimeType": "audio/L16;codec=pcm;rate=7", "data": base64.b64encode(pcm()).decode()}}
    event = {"candidates": [{"content": {"parts": [bad], "role": "model"}, "index": 0}]}
    fake.reply(events=[event], method="streamGenerateContent")
    events = [e for _, e in sse_events(proxy)]
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    assert "sample rate" in events[-1]["error"]["message"]
    fake.reply(events=[event], method="streamGenerateContent")
    with pytest.raises(httpx.RemoteProtocolError):  # an audio body is cut, never ends as if whole
        httpx.post(
            proxy + "/v1/audio/speech",
            json={"voice": "alloy", "input": "hi", "response_format": "pcm"},
            headers={"authorization": f"Bearer {KEY_A}"},
        )


# Bad input and bad answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, param, words",
    [
        ({"input": None}, "input", "input is required"),
        ({"input": "   "}, "input", "input is required"),
        ({"input": "x" * 16385}, "input", "16384"),
        ({"voice": "robot"}, "voice", "alloy"),
        ({"voice": None}, "voice", "Zephyr"),
        ({"voice": "voice_bad id"}, "voice", "voice_"),
        ({"voice": ["alloy"]}, "voice", "alloy"),
        ({"response_format": "opus"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "aac"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "flac"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "ogg"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": ["mp3"]}, "response_format", "mp3, wav, pcm"),
        ({"response_format": {"type": "mp3"}}, "response_format", "mp3, wav, pcm"),
        ({"speed": 1.5}, "speed", "instructions"),
        ({"speed": 9}, "speed", "0.25 to 4.0"),
        ({"stream_format": "chunks"}, "stream_format", "sse"),
        ({"stream_format": ["sse"]}, "stream_format", "sse"),
        ({"instructions": 5}, "instructions", "string"),
        ({"instructions": "x" * 4097}, "instructions", "4096"),
    ],
)
def test_bad_input_is_a_400_with_nothing_sent(proxy, fake, change, param, words):
    body = {"model": "tts-1", "voice": "alloy", "input": "hi", **change}
    r = httpx.post(proxy + "/v1/audio/speech", json=body, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert words in error["message"]
    assert fake.received == []


def test_sdk_raises_bad_request_for_unsupported_format(proxy, fake):
    with pytest.raises(openai.BadRequestError) as info:
        speak(proxy, response_format="opus")
    assert info.value.body["param"] == "response_format"
    assert fake.received == []


def answer_with(mime: str, data: bytes) -> dict:
    part = {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}
    return {"candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP", "index": 0}]}


def wav_of(rate: int, channels: int = 1, bits: int = 16) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2, 2, bits)
    return (
        b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data\x08\0\0\0" + bytes(8)
    )


@pytest.mark.parametrize(
    "mime, data",
    [
        ("audio/L16;codec=pcm;rate=24000", b""),  # empty
        ("audio/L16;codec=pcm;rate=1", pcm()),
        ("audio/L16;codec=pcm;rate=7", pcm()),
        ("audio/L16;codec=pcm;rate=100000000000000", pcm()),
        ("audio/wav", wav_of(1)),
        ("audio/wav", wav_of(24000, channels=2)),
        ("audio/wav", b"RIFF\0\0\0\0WAVEdata"),  # no format chunk
        ("audio/wav", pcm()),  # called a WAV, is not one
    ],
)
def test_bad_audio_from_gemini_is_a_502(proxy, fake, mime, data):
    """A whole answer; a streamed one ends with an error instead (test_streamed_errors...)."""
    fake.reply(answer_with(mime, data), method="generateContent")
    r = httpx.post(
        proxy + "/v1/audio/speech",
        json={"voice": "alloy", "input": "hi", "response_format": "mp3"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 502, r.text
    assert r.json()["error"]["type"] == "api_error" and "Traceback" not in r.text


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda rate, body: wav_of(rate) + body, st.integers(0, 2**31 - 1), st.binary(max_size=50)),
        st.builds(lambda tail: b"RIFF\xff\xff\xff\xffWAVE" + tail, st.binary(max_size=80)),
    ),
    mime=st.sampled_from(["audio/wav", "audio/L16;codec=pcm;rate=24000", "audio/L16;rate=", "audio/L16;rate=7x"]),
    fmt=st.sampled_from(["mp3", "wav", "pcm"]),
)
def test_any_audio_bytes_encode_or_raise_bad_audio(data, mime, fmt):
    """Whatever Gemini sends as audio, the route gets samples or BadAudio (its 502), never
    another exception from the parser or the encoders, whole or streamed."""
    try:
        found = speech.audio_of(answer_with(mime, data))
        assert found is not None
        audio.encode(found[0], found[1], fmt)
        encoder = audio.stream_encoder(fmt, found[1])
        encoder.feed(found[0][:7])
        encoder.feed(found[0][7:])
        encoder.end()
    except audio.BadAudio:
        pass


def test_upstream_failures(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    with pytest.raises(openai.RateLimitError) as info:
        speak(proxy)
    assert info.value.response.headers["retry-after"] == "7"
    fake.keys[KEY_A] = "forbidden"  # Gemini quotes the key in this 403: the client sees it masked
    with pytest.raises(openai.PermissionDeniedError) as denied:
        speak(proxy)
    assert KEY_A not in denied.value.response.text and "AIzaSy...1111" in denied.value.response.text
    fake.keys.clear()
    fake.reply(text_response("I cannot speak"), method="generateContent")
    with pytest.raises(openai.InternalServerError) as failed:
        speak(proxy)
    assert failed.value.status_code == 502 and "without audio" in failed.value.body["message"]
    fake.reply({"promptFeedback": {"blockReason": "SAFETY"}}, method="generateContent")
    with pytest.raises(openai.BadRequestError) as blocked:
        speak(proxy)
    assert blocked.value.body["code"] == "content_policy_violation"


def test_binary_audio_through_mangum(lambda_handler, fake):  # noqa: F811 (the imported fixture)
    """Buffered Lambda (Mangum): the MP3 comes back base64-encoded, as API Gateway needs."""
    body = '{"model": "tts-1", "voice": "coral", "input": "hi"}'
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY_A}"}
    result = lambda_handler(function_url("POST", "/v1/audio/speech", headers=headers, body=body), Context())
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    assert len(mp3_samples(body_of(result))) == SAMPLES
    assert fake.generate_calls[0].json == current_body("hi", "Aoede")
