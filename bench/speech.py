"""Time and memory to turn 60 s of Gemini speech into MP3, and what streamed speech adds
to the first audio byte (a benchmark, not a test).

    python bench/speech.py [--seconds 60] [--runs 5] [--stream-runs 15]

Loads the proxy (`import handler.app`), notes its resident memory (the idle figure),
then measures, for a Gemini TTS answer of `--seconds` of 24 kHz 16-bit mono PCM:
- `encode`: handler.openai.audio.encode to MP3 alone (LAME), median of `--runs`;
- `answer`: the speech route's whole work on the answer: parse Gemini's JSON, decode the
  base64 audio (speech.pcm_of), encode to MP3, median of `--runs`;
- peak resident memory above idle (VmHWM, reset through /proc/self/clear_refs, so
  LAME's C buffers count) for one `encode` and one `answer`, each in a fresh process
  whose only input is the PCM / the Gemini JSON read from a file (the proxy holds the
  upstream body too), so that no memory freed by earlier runs hides the peak; and the
  peak of Python allocations in an `answer` (tracemalloc).
- CPU seconds per minute of audio (process time, median of `--runs`) for the encodings
  the route does: a unary Gemini 3.8 answer (JSON, base64, the WAV header checked, MP3),
  and streamed MP3 (LAME fed Gemini's chunks of 0.25 s as they come). Target: < 0.2 s.
- streamed speech's first audio byte: a tiny TTS upstream (uvicorn on loopback) waits
  FIRST_CHUNK_DELAY before its first PCM chunk, then sends the rest; the client times
  its first audio byte straight from that upstream and through the proxy (pcm and mp3
  with `stream_format: "audio"`, and an SSE delta), median of `--stream-runs`. The
  difference is what the proxy adds. Target: < 50 ms.
The audio is a speech-like signal (a voiced tone with changing pitch, syllable-rate
loudness and some noise), so LAME works as hard as on real speech, unlike on silence.
Target: well under a second, no more than a few MB above idle.
"""

from __future__ import annotations

import argparse
import array
import base64
import functools
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from upstream import request_read  # bench/ siblings import by name (scripts run from there)

import handler.app  # noqa: F401  (the proxy as it runs: its idle memory is the baseline)
from handler.openai import audio, speech

RATE = 24000
FIRST_CHUNK_DELAY = 0.2  # seconds the bench upstream takes to its first audio chunk
STREAM_CHUNKS = 8
STREAM_GAP = 0.05


def speech_like(seconds: float) -> bytes:
    rng = random.Random(7)
    out = array.array("h")
    phase = 0.0
    for i in range(int(seconds * RATE)):
        t = i / RATE
        pitch = 140 + 40 * math.sin(2 * math.pi * 0.7 * t)  # a voice that rises and falls
        phase += 2 * math.pi * pitch / RATE
        loud = max(0.0, math.sin(2 * math.pi * 4 * t)) ** 0.5  # about 4 syllables a second
        voiced = math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.25 * math.sin(3 * phase)
        out.append(int(6000 * loud * voiced + rng.gauss(0, 300)))
    return out.tobytes()


def gemini_answer(pcm: bytes) -> bytes:
    part = {"inlineData": {"mimeType": f"audio/L16;codec=pcm;rate={RATE}", "data": base64.b64encode(pcm).decode()}}
    return json.dumps(
        {"candidates": [{"content": {"parts": [part], "role": "model"}, "finishReason": "STOP"}]}
    ).encode()


def answer(raw: bytes) -> bytes:
    found = speech.audio_of(json.loads(raw))
    assert found is not None
    return audio.encode(found[0], found[1], "mp3")


def wav_answer(pcm: bytes) -> bytes:
    """A unary Gemini 3.8 TTS answer: a WAV file, base64 in JSON."""
    data = base64.b64encode(audio.wav_header(RATE, len(pcm)) + pcm).decode()
    part = {"inlineData": {"mimeType": "audio/wav", "data": data}}
    return json.dumps({"candidates": [{"content": {"parts": [part], "role": "model"}}]}).encode()


def streamed_mp3(pcm: bytes) -> bytes:
    encoder = audio.stream_encoder("mp3", RATE)
    step = RATE // 2  # 0.25 s of samples (bytes: 2 per sample)
    out = [encoder.feed(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    return b"".join(out) + encoder.end()


def median_cpu(fn, runs: int) -> float:
    """Median process (CPU) seconds of fn()."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


# Streamed speech: a tiny TTS upstream, the proxy in front of it ---------------------------------


def _tts_event(chunk: bytes, last: bool) -> bytes:
    blob = {"mimeType": f"audio/L16;codec=pcm;rate={RATE}", "data": base64.b64encode(chunk).decode()}
    candidate: dict = {"content": {"parts": [{"inlineData": blob}], "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    usage = {"promptTokenCount": 5, "candidatesTokenCount": 10, "totalTokenCount": 15}
    return b"data: " + json.dumps({"candidates": [candidate], "usageMetadata": usage}).encode() + b"\r\n\r\n"


@functools.cache
def _chunk() -> bytes:
    return speech_like(0.25)


async def tts_upstream(scope, receive, send) -> None:
    """streamGenerateContent for TTS: FIRST_CHUNK_DELAY, then STREAM_CHUNKS of 0.25 s."""
    import asyncio

    if not await request_read(scope, receive, send):
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    chunk = _chunk()
    for i in range(STREAM_CHUNKS):
        await asyncio.sleep(FIRST_CHUNK_DELAY if i == 0 else STREAM_GAP)
        await send({"type": "http.response.body", "body": _tts_event(chunk, i == STREAM_CHUNKS - 1), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def first_byte(url: str, body: dict | None, headers: dict) -> float:
    """Seconds from sending the request to the first audio byte (or SSE delta)."""
    import httpx

    start = time.perf_counter()
    with httpx.stream("POST", url, json=body or {}, headers=headers, timeout=10) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            if chunk.strip(b": keep-alive\n"):
                return time.perf_counter() - start
    raise RuntimeError("no audio")


def stream_overhead(runs: int) -> dict[str, tuple[float, float]]:
    """name -> (median first byte ms, median over the upstream's own first byte ms)."""
    from handler.app import create_app
    from handler.config import Settings
    from tests.servers import ServerThread

    fake = ServerThread(tts_upstream).start()
    # A TTS model named outright: this bench upstream serves no model list (the family
    # lookup costs nothing per call once cached: bench/families.py).
    env = {"GEMINI_BASE_URL": fake.url, "TTS_MODEL": "gemini-3.8-flash-tts"}
    proxy = ServerThread(create_app(Settings.from_env(env))).start()
    key = {"x-goog-api-key": "AIzaSy-bench-key-0000000000000000000000"}
    direct = f"{fake.url}/v1beta/models/gemini-3.8-flash-tts:streamGenerateContent?alt=sse"
    cases = {
        "pcm (stream_format audio)": {"response_format": "pcm"},
        "mp3 (stream_format audio)": {"response_format": "mp3", "stream_format": "audio"},
        "sse delta (pcm)": {"response_format": "pcm", "stream_format": "sse"},
    }
    try:
        results = {}
        for name, extra in cases.items():
            body = {"model": "tts-1", "voice": "alloy", "input": "Hello there", **extra}
            proxied, own = [], []
            for _ in range(runs):
                own.append(first_byte(direct, None, key))
                proxied.append(first_byte(proxy.url + "/v1/audio/speech", body, key))
            results[name] = (
                statistics.median(proxied) * 1000,
                (statistics.median(proxied) - statistics.median(own)) * 1000,
            )
        return results
    finally:
        proxy.stop()
        fake.stop()


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_above_idle(fn) -> int:
    """KB of resident memory above the current RSS at the peak of fn()."""
    idle = rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    fn()
    return rss_kb("VmHWM") - idle


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def child(kind: str, path: Path) -> None:
    """Print idle RSS and the peak above it (KB) for one `kind` run on the file's data."""
    audio.encode(bytes(4800), RATE, "mp3")  # loads lameenc: part of a speaking proxy's idle state
    data = path.read_bytes()
    idle = rss_kb("VmRSS")
    work = (lambda: audio.encode(data, RATE, "mp3")) if kind == "encode" else (lambda: answer(data))
    print(idle, peak_above_idle(work))


def fresh_peak(kind: str, data: bytes) -> tuple[int, int]:
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, file.name], capture_output=True, text=True, check=True
        )
    idle, peak = done.stdout.split()
    return int(idle), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stream-runs", type=int, default=15)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return

    pcm = speech_like(args.seconds)
    raw = gemini_answer(pcm)
    idle, encode_peak = fresh_peak("encode", pcm)
    _, answer_peak = fresh_peak("answer", raw)
    mp3 = audio.encode(pcm, RATE, "mp3")  # warm-up: loads lameenc
    encode_ms = median_ms(lambda: audio.encode(pcm, RATE, "mp3"), args.runs)
    answer_ms = median_ms(lambda: answer(raw), args.runs)
    tracemalloc.start()
    answer(raw)
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"{args.seconds:g} s of speech: PCM {len(pcm) / 1e6:.2f} MB, Gemini JSON {len(raw) / 1e6:.2f} MB, "
        f"MP3 {len(mp3) / 1e3:.0f} KB ({audio.MP3_KBPS} kbit/s)"
    )
    print(f"encode to MP3 (LAME only):              {encode_ms:7.1f} ms  (median of {args.runs})")
    print(f"whole answer (JSON, base64, MP3):       {answer_ms:7.1f} ms")
    print(f"proxy idle RSS (handler.app + lameenc, with the input held): {idle / 1024:5.1f} MB")
    print(f"peak RSS above idle, MP3 encode only:   {encode_peak / 1024:7.1f} MB")
    print(f"peak RSS above idle, whole answer:      {answer_peak / 1024:7.1f} MB")
    print(f"peak Python allocations in an answer:   {python_peak / 1e6:7.1f} MB (inputs not counted)")

    per_minute = 60 / args.seconds
    wav_raw = wav_answer(pcm)
    cpu = {
        "unary 3.8 answer (JSON, base64, WAV checked, MP3)": median_cpu(lambda: answer(wav_raw), args.runs),
        "streamed MP3 (0.25 s chunks)": median_cpu(lambda: streamed_mp3(pcm), args.runs),
        "whole WAV (header + samples)": median_cpu(lambda: audio.encode(pcm, RATE, "wav"), args.runs),
    }
    print("CPU per minute of audio (target < 0.2 s):")
    for name, seconds in cpu.items():
        print(f"  {name:50s} {seconds * per_minute:6.3f} s  {'ok' if seconds * per_minute < 0.2 else 'OVER'}")
    print(
        f"first audio byte, streamed (upstream's own first chunk after {FIRST_CHUNK_DELAY * 1000:.0f} ms; "
        f"median of {args.stream_runs}; target: < 50 ms added):"
    )
    for name, (total, added) in stream_overhead(args.stream_runs).items():
        print(f"  {name:30s} {total:7.1f} ms, added by the proxy {added:6.1f} ms  {'ok' if added < 50 else 'OVER'}")


if __name__ == "__main__":
    main()
