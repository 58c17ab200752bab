"""POST /audio/speech over real HTTP with the openai SDK, in every supported format.

The fake Gemini speaks SPEECH_SECONDS of a real 440 Hz tone as 24 kHz PCM; the returned
bytes are decoded (wave for WAV, miniaudio's real MP3 decoder for MP3) and compared
with it in format, length and content.
"""

from __future__ import annotations

import array
import io
import math
import wave

import httpx
import miniaudio
import openai
import pytest

from ..clients import openai_client as client
from ..conftest import KEY_A
from ..core.test_lambda_events import Context, body_of, function_url, lambda_handler  # noqa: F401 (a fixture)
from ..fake_gemini import SPEECH_RATE, SPEECH_SECONDS, pcm, text_response

DEFAULT_PATH = "/v1beta/models/gemini-3.8-flash-tts:generateContent"


def speak(base: str, **kwargs) -> bytes:
    params = {"model": "tts-1", "voice": "alloy", "input": "Hello there", **kwargs}
    return client(base).audio.speech.create(**params).content


def expected_body(text: str = "Hello there", voice: str = "Zephyr") -> dict:
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


def test_default_is_mp3_of_the_right_length_and_tone(proxy, fake):
    response = client(proxy + "/v1").audio.speech.create(model="tts-1", voice="alloy", input="Hello there")
    data = response.content
    assert response.response.headers["content-type"] == "audio/mpeg"
    decoded = miniaudio.mp3_read_s16(data)  # as encoded: no resampling or channel mixing
    assert (decoded.sample_rate, decoded.nchannels) == (SPEECH_RATE, 1)
    assert decoded.duration == pytest.approx(SPEECH_SECONDS, abs=0.1)  # LAME adds some padding
    # The tone survives the encoding (amplitude 8000 in the fake's samples).
    assert tone_level(decoded.samples, SPEECH_RATE // 2) == pytest.approx(8000, rel=0.15)
    (call,) = fake.generate_calls
    assert call.path == DEFAULT_PATH and call.key == KEY_A
    assert call.json == expected_body()


def test_wav_holds_geminis_samples_exactly(proxy, fake):
    data = speak(proxy, response_format="wav", voice="nova")
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SPEECH_RATE)
        assert wav.getnframes() == int(SPEECH_SECONDS * SPEECH_RATE)
        assert wav.readframes(wav.getnframes()) == pcm()
    assert fake.generate_calls[0].json == expected_body(voice="Kore")


def test_pcm_is_geminis_samples(proxy, fake):
    assert speak(proxy + "/openai/v1", response_format="pcm") == pcm()


def test_gemini_model_voice_and_instructions(proxy, fake):
    speak(
        proxy,
        model="gemini-2.5-pro-preview-tts",
        voice="sadaltager",
        instructions="Speak slowly and warmly:",
        speed=1.0,
    )
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-pro-preview-tts:generateContent"
    assert call.json == expected_body("Speak slowly and warmly:\nHello there", "Sadaltager")


def test_voice_object_and_tts_model_setting(start_proxy, fake):
    url = start_proxy(TTS_MODEL="gemini-3.1-flash-tts-preview", MODEL_ALIASES="tts-1-hd=gemini-2.5-pro-preview-tts")
    speak(url, model="gpt-4o-mini-tts", voice={"id": "onyx"})
    speak(url, model="tts-1-hd", voice="Charon")
    first, second = fake.generate_calls
    assert first.path == "/v1beta/models/gemini-3.1-flash-tts-preview:generateContent"
    assert second.path == "/v1beta/models/gemini-2.5-pro-preview-tts:generateContent"
    assert first.json == second.json == expected_body(voice="Charon")


@pytest.mark.parametrize("prefix", ["", "/v1", "/openai/v1", "/hf/v1"])
def test_every_prefix(proxy, fake, prefix):
    r = httpx.post(
        proxy + prefix + "/audio/speech",
        json={"model": "tts-1", "voice": "echo", "input": "hi", "response_format": "pcm"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.content == pcm()
    assert [c.path for c in fake.generate_calls] == [DEFAULT_PATH]  # after the model list, read once


@pytest.mark.parametrize(
    "change, param, words",
    [
        ({"input": None}, "input", "input is required"),
        ({"input": "   "}, "input", "input is required"),
        ({"input": "x" * 4097}, "input", "4096"),
        ({"voice": "robot"}, "voice", "alloy"),
        ({"voice": None}, "voice", "Zephyr"),
        ({"response_format": "opus"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "aac"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "flac"}, "response_format", "mp3, wav, pcm"),
        ({"response_format": "ogg"}, "response_format", "mp3, wav, pcm"),
        ({"speed": 1.5}, "speed", "instructions"),
        ({"speed": 9}, "speed", "0.25 to 4.0"),
        ({"stream_format": "sse"}, "stream_format", "audio"),
        ({"instructions": 5}, "instructions", "string"),
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
    decoded = miniaudio.mp3_read_s16(body_of(result))
    assert decoded.duration == pytest.approx(SPEECH_SECONDS, abs=0.1)
    assert fake.generate_calls[0].json == expected_body("hi", "Aoede")
