"""Benchmark: the translated protocols side by side, each against the OpenAI chat route.

    python bench/protocols.py [--requests 1000] [--streams 20]

Starts the fast fake upstream (bench/upstream.py) and the proxy (uvicorn with uvloop and
httptools, as deployed) on loopback, then per protocol route prints:
- non-streamed latency p50 (ms) and proxy CPU per request (ms);
- the added delay per streamed event: arrival time minus the upstream's send time,
  each stamp counted once (a Responses stream repeats the text in its `.done` events
  and in the final response);
- proxy CPU per streamed upstream event (µs): the proxy process's CPU time over the
  streams / the upstream events they carried.
Each protocol is one function (`chat`, `responses`, ...) returning its column, so that
another protocol adds a function and a line in PROTOCOLS. Compare columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upstream import EVENTS

from bench import KEY, STAMP, cpu_seconds, free_port, latencies, pct, start

PROMPT = "Say something short."
HEADERS = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}


async def stream_delays(session: aiohttp.ClientSession, url: str, body: bytes, streams: int) -> list[float]:
    """Per upstream event: when its stamp first reached the client minus its send time (ms)."""
    delays = []
    for _ in range(streams):
        seen: set[bytes] = set()
        buffer = b""
        async with session.post(url, data=body, headers=HEADERS) as r:
            assert r.status == 200, r.status
            async for chunk in r.content.iter_any():
                now = time.monotonic()
                buffer += chunk
                for stamp in STAMP.findall(buffer):
                    if stamp not in seen:
                        seen.add(stamp)
                        delays.append((now - float(stamp)) * 1000)
                buffer = buffer[-64:]
    return delays


async def column(base: str, pid: int, path: str, whole: dict, streamed: dict, args) -> dict:
    url = base + path
    body, stream_body = json.dumps(whole).encode(), json.dumps(streamed).encode()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await latencies(session, url, body, 100)  # warm up (x-goog-api-key header: a client key)
        cpu0 = cpu_seconds(pid)
        lat = await latencies(session, url, body, args.requests)
        cpu1 = cpu_seconds(pid)
        await stream_delays(session, url, stream_body, 2)
        cpu2 = cpu_seconds(pid)
        delays = await stream_delays(session, url, stream_body, args.streams)
        cpu3 = cpu_seconds(pid)
    return {
        "p50": pct(lat, 0.5),
        "cpu_ms": (cpu1 - cpu0) * 1000 / args.requests,
        "event_ms": statistics.median(delays),
        "event_cpu_us": (cpu3 - cpu2) * 1e6 / (args.streams * EVENTS),
    }


def chat(base: str, pid: int, args) -> dict:
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": PROMPT}]}
    return asyncio.run(column(base, pid, "/v1/chat/completions", body, {**body, "stream": True}, args))


def responses(base: str, pid: int, args) -> dict:
    body = {"model": "gemini-2.5-flash", "input": PROMPT, "store": False}
    return asyncio.run(column(base, pid, "/v1/responses", body, {**body, "stream": True}, args))


PROTOCOLS = [("chat", chat), ("responses", responses)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=50)
    args = parser.parse_args()
    up_port, proxy_port = free_port(), free_port()
    upstream = start("bench.upstream:app", up_port, {})
    proxy = start("handler.app:app", proxy_port, {"GEMINI_BASE_URL": f"http://127.0.0.1:{up_port}", "LOG_LEVEL": "WARNING"})
    try:
        base = f"http://127.0.0.1:{proxy_port}"
        results = [(name, run(base, proxy.pid, args)) for name, run in PROTOCOLS]
    finally:
        for proc in (proxy, upstream):
            proc.terminate()
            proc.wait(10)
    print(f"Protocols: {args.requests} sequential calls, {args.streams} streams of {EVENTS} events; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'':<40}" + "".join(f"{name:>14}" for name, _ in results))
    for key, label in (("p50", "non-streamed latency p50 (ms)"), ("cpu_ms", "proxy CPU per request (ms)"),
                       ("event_ms", "streamed event delay p50 (ms)"), ("event_cpu_us", "proxy CPU per streamed event (us)")):
        print(f"{label:<40}" + "".join(f"{r[key]:>14.3f}" for _, r in results))


if __name__ == "__main__":
    main()
