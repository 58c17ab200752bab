"""Benchmark: the proxy against calling the upstream directly, side by side in one run.

    python bench/bench.py [--requests 2000] [--concurrency 32]

Starts the fast fake upstream (bench/upstream.py) and the proxy (uvicorn with uvloop and
httptools in handler.server's guarded protocol, as deployed) as separate processes on loopback, then prints:
- latency p50/p99 of non-streamed calls, direct vs through the proxy, and the difference;
- the added delay per streamed event (each event carries its send time);
- requests/s at N concurrent clients, direct and through the proxy;
- CPU ms per proxied request (the proxy process's user+system time / requests), in the
  sequential phase and under concurrency (two cores shared by client, upstream and proxy
  make the second one noisier);
- the same for the OpenAI chat route against the native pass-through, when it exists.
The load generator is aiohttp (httpx would be the bottleneck at these rates). Figures
depend on the machine: compare the columns of one run, not runs on different machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
KEY = "AIzaSyBench-key-0000000000000000000000000"
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say something short."}]}]}).encode()
CHAT = json.dumps({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Say something short."}]}).encode()
NATIVE = "/v1beta/models/gemini-2.5-flash:generateContent"
NATIVE_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
STAMP = re.compile(rb"t=(\d+\.\d+);")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
           "--loop", "uvloop", "--http", "handler.server:GuardedHttpTools", "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{app} did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def latencies(session: aiohttp.ClientSession, url: str, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        async with session.post(url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}) as r:
            await r.read()
            assert r.status == 200, r.status
        out.append((time.perf_counter() - t) * 1000)
    return out


async def throughput(session: aiohttp.ClientSession, url: str, body: bytes, n: int, concurrency: int) -> float:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}) as r:
                await r.read()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t)


async def event_delays(session: aiohttp.ClientSession, url: str, body: bytes, streams: int) -> list[float]:
    """Per event: arrival time minus the upstream's send time, in ms."""
    delays = []
    for _ in range(streams):
        async with session.post(url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}) as r:
            buffer = b""
            async for chunk in r.content.iter_any():
                now = time.monotonic()
                buffer += chunk
                for stamp in STAMP.findall(buffer):
                    delays.append((now - float(stamp)) * 1000)
                buffer = buffer[buffer.rfind(b";") + 1 :] if STAMP.search(buffer) else buffer
    return delays


async def measure(base: str, pid: int | None, args, path: str, stream_path: str, body: bytes) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await latencies(session, base + path, body, 200)  # warm up
        cpu0 = cpu_seconds(pid) if pid else 0.0
        result = {"lat": await latencies(session, base + path, body, args.requests)}
        cpu1 = cpu_seconds(pid) if pid else 0.0
        result["rps"] = await throughput(session, base + path, body, args.requests * 2, args.concurrency)
        if pid:
            result["cpu_seq_ms"] = (cpu1 - cpu0) * 1000 / args.requests
            result["cpu_ms"] = (cpu_seconds(pid) - cpu1) * 1000 / (args.requests * 2)
        result["events"] = await event_delays(session, base + stream_path, body, args.streams)
    return result


def row(name: str, *cols: str) -> str:
    return f"{name:<38}" + "".join(f"{c:>16}" for c in cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args()

    up_port, proxy_port = free_port(), free_port()
    upstream = start("bench.upstream:app", up_port, {})
    proxy = start("handler.app:app", proxy_port, {"GEMINI_BASE_URL": f"http://127.0.0.1:{up_port}", "LOG_LEVEL": "INFO"})
    try:
        direct = asyncio.run(measure(f"http://127.0.0.1:{up_port}", None, args, NATIVE, NATIVE_STREAM, BODY))
        via = asyncio.run(measure(f"http://127.0.0.1:{proxy_port}", proxy.pid, args, NATIVE, NATIVE_STREAM, BODY))
        chat = None
        probe = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", f"authorization: Bearer {KEY}",
             "-H", "content-type: application/json", "-d", CHAT.decode(), f"http://127.0.0.1:{proxy_port}/v1/chat/completions"],
            capture_output=True, text=True,
        )
        if probe.stdout == "200":
            stream_chat = json.dumps({**json.loads(CHAT), "stream": True}).encode()

            async def chat_run() -> dict:
                base = f"http://127.0.0.1:{proxy_port}"
                out = await measure(base, proxy.pid, args, "/v1/chat/completions", "/v1/chat/completions", CHAT)
                async with aiohttp.ClientSession() as session:
                    out["events"] = await event_delays(session, base + "/v1/chat/completions", stream_chat, args.streams)
                return out

            chat = asyncio.run(chat_run())
    finally:
        for proc in (proxy, upstream):
            proc.terminate()
            proc.wait(10)

    d50, d99 = pct(direct["lat"], 0.5), pct(direct["lat"], 0.99)
    p50, p99 = pct(via["lat"], 0.5), pct(via["lat"], 0.99)
    de, pe = statistics.median(direct["events"]), statistics.median(via["events"])
    print(f"Gemini Edge Proxy benchmark: {args.requests} sequential calls, {args.requests * 2} at "
          f"{args.concurrency} concurrent, {args.streams} streams; python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(row("", "direct", "via proxy", "added", "target"))
    print(row("non-streamed latency p50 (ms)", f"{d50:.3f}", f"{p50:.3f}", f"{p50 - d50:.3f}", "< 1"))
    print(row("non-streamed latency p99 (ms)", f"{d99:.3f}", f"{p99:.3f}", f"{p99 - d99:.3f}", ""))
    print(row("streamed event delay p50 (ms)", f"{de:.3f}", f"{pe:.3f}", f"{pe - de:.3f}", "< 1"))
    print(row(f"requests/s at {args.concurrency} concurrent", f"{direct['rps']:.0f}", f"{via['rps']:.0f}", "", "> 2500"))
    print(row("proxy CPU per request, sequential (ms)", "", f"{via['cpu_seq_ms']:.3f}", "", "<= 0.3"))
    print(row(f"proxy CPU per request, {args.concurrency} conc. (ms)", "", f"{via['cpu_ms']:.3f}", "", "<= 0.3"))
    if chat:
        c50 = pct(chat["lat"], 0.5)
        ce = statistics.median(chat["events"])
        print(row("OpenAI chat vs native pass-through", "native", "chat", "added", "target"))
        print(row("non-streamed latency p50 (ms)", f"{p50:.3f}", f"{c50:.3f}", f"{c50 - p50:.3f}", "< 1"))
        print(row("streamed chunk delay p50 (ms)", f"{pe:.3f}", f"{ce:.3f}", f"{ce - pe:.3f}", "< 0.1"))
        print(row(f"requests/s at {args.concurrency} concurrent", f"{via['rps']:.0f}", f"{chat['rps']:.0f}", "", ""))
        print(row("proxy CPU per request, sequential (ms)", f"{via['cpu_seq_ms']:.3f}", f"{chat['cpu_seq_ms']:.3f}", "", ""))
        print(row(f"proxy CPU per request, {args.concurrency} conc. (ms)", f"{via['cpu_ms']:.3f}", f"{chat['cpu_ms']:.3f}", "", ""))
    print("Reference (the issue, same kind of machine): JavaScript edge proxy under Node adds ~1.2 ms p50, "
          "~0.45 ms CPU/request, ~2,500 req/s at 32 concurrent.")


if __name__ == "__main__":
    main()
