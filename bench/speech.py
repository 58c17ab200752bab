"""Time and memory to turn 60 s of Gemini speech into MP3 (a benchmark, not a test).

    python bench/speech.py [--seconds 60] [--runs 5]

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
The audio is a speech-like signal (a voiced tone with changing pitch, syllable-rate
loudness and some noise), so LAME works as hard as on real speech, unlike on silence.
Target: well under a second, no more than a few MB above idle.
"""

from __future__ import annotations

import argparse
import array
import base64
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

import handler.app  # noqa: F401  (the proxy as it runs: its idle memory is the baseline)
from handler.openai import audio, speech

RATE = 24000


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
    pcm, rate = speech.pcm_of(json.loads(raw))
    return audio.encode(pcm, rate, "mp3")


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


if __name__ == "__main__":
    main()
