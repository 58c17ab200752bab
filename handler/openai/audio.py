"""Gemini's speech (raw 16-bit mono PCM) -> the audio formats of OpenAI's speech API.

Gemini TTS answers `audio/L16;codec=pcm;rate=24000`. Despite the L16 name (big-endian
in RFC 2586) the samples are little-endian, as Google's own examples write them
straight into a WAV file; OpenAI's `pcm` format is the same thing (24 kHz, signed
16-bit little-endian, mono), so it passes as it is.

- `wav`: the standard library's `wave`, a 44-byte header in front of the samples.
- `mp3` (OpenAI's default, so it must work): LAME through `lameenc`, a ~185 KB
  manylinux wheel for both aarch64 and x86_64 with no dependencies of its own, kept
  up to date with CPython releases. Pure-Python MP3 encoders take seconds per minute
  of speech; ffmpeg or pydub weigh tens of MB and need a subprocess. It is imported
  on first use, so cold starts that never speak do not pay for it. 64 kbit/s CBR mono
  at the input rate: speech sounds clean, and a minute is about 470 KB.
- `opus`, `aac`, `flac`: no small, well-kept Python encoder exists for them; they are
  refused (400) with the list of supported formats, before anything goes upstream.
"""

from __future__ import annotations

import io
import re
import wave

GEMINI_RATE = 24000  # Hz, what Gemini TTS sends when its mimeType does not say
MP3_KBPS = 64
MP3_QUALITY = 5  # LAME's 0 (best, slowest) .. 9 (fastest); 5 is its own default trade-off
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}
UNSUPPORTED = ("opus", "aac", "flac")
_RATE = re.compile(r"rate=(\d+)")


def sample_rate(mime: str) -> int:
    """The sample rate named in a mimeType like `audio/L16;codec=pcm;rate=24000`."""
    match = _RATE.search(mime or "")
    return int(match[1]) if match and int(match[1]) > 0 else GEMINI_RATE


def to_wav(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm[: len(pcm) - len(pcm) % 2])
    return out.getvalue()


def to_mp3(pcm: bytes, rate: int) -> bytes:
    import lameenc  # first use only: see the module docstring

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(MP3_QUALITY)
    # One second at a time: LAME given the whole minute at once allocates buffers for all
    # of it; fed in pieces its memory stays flat, for about the same time (docs/speed.md).
    out = bytearray()
    end = len(pcm) - len(pcm) % 2
    step = rate * 2
    for start in range(0, end, step):
        out += encoder.encode(pcm[start : min(start + step, end)])
    out += encoder.flush()
    return bytes(out)


def encode(pcm: bytes, rate: int, fmt: str) -> bytes:
    """16-bit mono PCM at `rate` in the format `fmt` (a key of CONTENT_TYPES)."""
    if fmt == "mp3":
        return to_mp3(pcm, rate)
    if fmt == "wav":
        return to_wav(pcm, rate)
    return pcm
