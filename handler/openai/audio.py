"""Gemini's speech (16-bit mono PCM, or a WAV file of it) -> the audio formats of OpenAI's
speech API, whole or as it arrives.

Gemini TTS answers `audio/L16;codec=pcm;rate=24000` (older models, and every streamed
call) or, on a unary 3.8 TTS call, a complete WAV file (`unwrap_wav` reads its header,
checked chunk by chunk, never assumed to be 44 bytes). Despite the L16 name (big-endian
in RFC 2586) the samples are little-endian, as Google's own examples write them
straight into a WAV file; OpenAI's `pcm` format is the same thing (24 kHz, signed
16-bit little-endian, mono), so it passes as it is.

- `wav`: a 44-byte header in front of the samples; streamed, its sizes say "unknown"
  (0xFFFFFFFF), as OpenAI's own streamed WAV does, and decoders read to the end.
- `mp3` (OpenAI's default, so it must work): LAME through `lameenc`, a ~185 KB
  manylinux wheel for both aarch64 and x86_64 with no dependencies of its own, kept
  up to date with CPython releases. Pure-Python MP3 encoders take seconds per minute
  of speech; ffmpeg or pydub weigh tens of MB and need a subprocess. It is imported
  on first use, so cold starts that never speak do not pay for it. 64 kbit/s CBR mono
  at the input rate: speech sounds clean, and a minute is about 470 KB. A whole MP3
  starts with a LAME "Info" frame that states the encoder delay and padding, so
  gapless decoders (dr_mp3/miniaudio, ffmpeg, browsers) give back exactly the samples
  Gemini sent; a streamed MP3 cannot know its padding before its end and has none.
- `opus`, `aac`, `flac`: no small, well-kept Python encoder exists for them (PyAV and
  ffmpeg are tens of MB, the Lambda package must stay under 3 MB); they are refused
  (400) with the list of supported formats, before anything goes upstream.

Bad audio from upstream (no samples, a rate LAME cannot take such as 1, 7 or 1e14, a
WAV that is not 16-bit mono PCM) raises `BadAudio`, which the route answers with a 502:
it is Gemini's answer that is wrong, not the request.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

GEMINI_RATE = 24000  # Hz, what Gemini TTS sends when its mimeType does not say
MP3_KBPS = 64
MP3_QUALITY = 5  # LAME's 0 (best, slowest) .. 9 (fastest); 5 is its own default trade-off
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}
UNSUPPORTED = ("opus", "aac", "flac")
# The rates MP3 (MPEG-1, 2 and 2.5) can carry; Gemini sends 24000. Others are refused.
RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
LAME_DELAY = 576  # samples LAME puts in front of the audio (its fixed ENCDELAY)
UNKNOWN_SIZE = 0xFFFFFFFF
_MAX_RATE_DIGITS = 6


class BadAudio(ValueError):
    """Gemini's audio cannot be turned into the asked format (a 502 for the client)."""


def sample_rate(mime: str) -> int:
    """The sample rate named in a mimeType like `audio/L16;codec=pcm;rate=24000`
    (GEMINI_RATE when it names none); BadAudio for a rate no format here can carry."""
    _, found, rest = (mime or "").partition("rate=")
    if not found:
        return GEMINI_RATE
    digits = rest.split(";", 1)[0].strip()
    if not digits.isdigit() or len(digits) > _MAX_RATE_DIGITS or int(digits) not in RATES:
        raise BadAudio(f"Gemini sent audio at a sample rate this proxy cannot encode ({digits[:20]!r}).")
    return int(digits)


def check(pcm: bytes, rate: int) -> None:
    if rate not in RATES:
        raise BadAudio(f"Gemini sent audio at a sample rate this proxy cannot encode ({rate}).")
    if len(pcm) < 2:
        raise BadAudio("Gemini sent no audio samples.")


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def unwrap_wav(data: bytes) -> tuple[bytes, int]:
    """(the samples, the rate) of a WAV file, its chunks read and checked: 16-bit mono
    PCM only (what Gemini sends); a data size past the end (or "unknown") reads to the end."""
    if not is_wav(data):
        raise BadAudio("Gemini sent audio that is neither PCM nor a WAV file.")
    pos, rate = 12, None
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if kind == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise BadAudio("Gemini sent a WAV file with a broken format chunk.")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag not in (1, 0xFFFE) or channels != 1 or bits != 16:
                raise BadAudio(f"Gemini sent a WAV file of {channels} channel(s), {bits}-bit, format {tag}.")
        elif kind == b"data":
            if rate is None:
                raise BadAudio("Gemini sent a WAV file without a format chunk.")
            pcm = data[body : body + size] if size != UNKNOWN_SIZE else data[body:]
            check(pcm, rate)
            return pcm, rate
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    raise BadAudio("Gemini sent a WAV file without samples.")


def wav_header(rate: int, size: int | None) -> bytes:
    """A 44-byte WAV header for 16-bit mono PCM; `size` None: unknown (a stream)."""
    data = UNKNOWN_SIZE if size is None else size
    riff = UNKNOWN_SIZE if size is None else 36 + size
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", riff, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", data
    )


def _lame(rate: int) -> Any:  # lameenc has no type hints
    import lameenc  # first use only: see the module docstring

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(MP3_QUALITY)
    return encoder


def _frame_length(header: bytes | bytearray) -> tuple[int, int]:
    """(bytes, samples) of the MP3 frame whose 4-byte header this is (padding included)."""
    version = (header[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    mpeg1 = version == 3
    kbps = (
        (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
        if mpeg1
        else (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
    )[index]
    rate = ((44100, 48000, 32000), (22050, 24000, 16000), (11025, 12000, 8000))[
        0 if mpeg1 else 1 if version == 2 else 2
    ][rate_index]
    samples = 1152 if mpeg1 else 576
    return samples // 8 * kbps * 1000 // rate + padding, samples


def info_frame(mp3: bytes | bytearray, samples: int) -> bytes:
    """A LAME "Info" frame for a whole CBR MP3 of `samples` samples: its frame count and
    the encoder delay and padding, so that gapless decoders trim them."""
    if len(mp3) < 4 or mp3[0] != 0xFF:
        return b""
    frames, pos, per_frame = 0, 0, 576
    while pos + 4 <= len(mp3) and mp3[pos] == 0xFF:
        size, per_frame = _frame_length(mp3[pos : pos + 4])
        if size <= 0:
            return b""
        pos, frames = pos + size, frames + 1
    padding = frames * per_frame - LAME_DELAY - samples
    if not 0 <= padding < 4096:
        return b""
    header = bytes((mp3[0], mp3[1], mp3[2] & ~0x02, mp3[3]))  # no padding slot
    size, _ = _frame_length(header)
    mpeg1, mono = (header[1] >> 3) & 3 == 3, header[3] >> 6 == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    frame = bytearray(size)
    frame[:4] = header
    at = 4 + side
    frame[at : at + 16] = b"Info" + struct.pack(">III", 0x3, frames, len(mp3) + size)  # audio frames, bytes
    lame = at + 16
    frame[lame : lame + 9] = b"LAME3.100"
    frame[lame + 21 : lame + 24] = bytes((LAME_DELAY >> 4, (LAME_DELAY & 15) << 4 | padding >> 8, padding & 255))
    return bytes(frame)


def to_mp3(pcm: bytes, rate: int) -> bytes:
    encoder = _lame(rate)
    # One second at a time: LAME given the whole minute at once allocates buffers for all
    # of it; fed in pieces its memory stays flat, for about the same time (docs/speed.md).
    out = bytearray()
    end = len(pcm) - len(pcm) % 2
    step = rate * 2
    for start in range(0, end, step):
        out += encoder.encode(pcm[start : min(start + step, end)])
    out += encoder.flush()
    return info_frame(out, end // 2) + bytes(out)


def encode(pcm: bytes, rate: int, fmt: str) -> bytes:
    """16-bit mono PCM at `rate` in the format `fmt` (a key of CONTENT_TYPES), whole."""
    check(pcm, rate)
    pcm = pcm[: len(pcm) - len(pcm) % 2]
    if fmt == "mp3":
        return to_mp3(pcm, rate)
    if fmt == "wav":
        return wav_header(rate, len(pcm)) + pcm
    return pcm


class StreamEncoder(Protocol):
    def feed(self, pcm: bytes) -> bytes:
        """The encoded bytes ready after these samples (maybe none yet)."""

    def end(self) -> bytes:
        """What is left at the end."""


class PcmStream:
    """Samples as they come, whole samples only (an odd byte waits for its pair)."""

    def __init__(self, rate: int, header: bytes = b"") -> None:
        self.rate = rate
        self._held = header
        self._odd = b""

    def feed(self, pcm: bytes) -> bytes:
        pcm = self._odd + pcm
        cut = len(pcm) - len(pcm) % 2
        self._odd = pcm[cut:]
        out, self._held = self._held + pcm[:cut], b""
        return out

    def end(self) -> bytes:
        out, self._held = self._held, b""
        return out


class Mp3Stream:
    """MP3 frames as LAME completes them."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lame = _lame(rate)
        self._odd = b""

    def feed(self, pcm: bytes) -> bytes:
        pcm = self._odd + pcm
        cut = len(pcm) - len(pcm) % 2
        self._odd = pcm[cut:]
        return bytes(self._lame.encode(pcm[:cut])) if cut else b""

    def end(self) -> bytes:
        return bytes(self._lame.flush())


def stream_encoder(fmt: str, rate: int) -> StreamEncoder:
    if rate not in RATES:
        raise BadAudio(f"Gemini sent audio at a sample rate this proxy cannot encode ({rate}).")
    if fmt == "mp3":
        return Mp3Stream(rate)
    return PcmStream(rate, wav_header(rate, None) if fmt == "wav" else b"")
