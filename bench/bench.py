"""Benchmark: the proxy against calling the upstream directly, side by side in one run.

    python bench/bench.py [--requests 2000] [--concurrency 32] [--baseline ../before]

Starts the fast fake upstream (bench/upstream.py) and the proxy (uvicorn with uvloop and
httptools in handler.server's guarded protocol, as deployed) as separate processes on loopback, then prints:
- latency p50/p99 of non-streamed calls, direct vs through the proxy, and the difference;
- the added delay per streamed event (each event carries its send time);
- requests/s at N concurrent clients, direct and through the proxy;
- CPU ms per proxied request (the proxy process's user+system time / requests), in the
  sequential phase and under concurrency (two cores shared by client, upstream and proxy
  make the second one noisier);
- what each translated route (OpenAI chat, Anthropic Messages, OpenAI Responses) adds
  over the native pass-through: latency, delay per streamed chunk, CPU per chunk and
  per request;
- with `--baseline DIR`, the same for the proxy of another checkout (for example
  `git worktree add ../before <commit>`), measured in the same run against the same
  upstream, so that a change's before and after sit side by side.
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
CHAT = json.dumps(
    {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Say something short."}]}
).encode()
RESPONSES = json.dumps({"model": "gemini-2.5-flash", "input": "Say something short.", "store": False}).encode()
MESSAGES = json.dumps(
    {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "Say something short."}]}
).encode()
NATIVE = "/v1beta/models/gemini-2.5-flash:generateContent"
NATIVE_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
STAMP = re.compile(rb"t=(\d+\.\d+);")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, port: int, env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
    # As deployed: the guarded HTTP protocol where the checkout has it (older ones ran httptools).
    http = "handler.server:GuardedHttpTools" if (cwd / "handler" / "server.py").exists() else "httptools"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        http,
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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
    """User + system time of a process (0 once it is gone: a peer's worker may end)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def latencies(session: aiohttp.ClientSession, url: str, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        async with session.post(
            url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}
        ) as r:
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
            async with session.post(
                url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}
            ) as r:
                await r.read()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t)


async def event_delays(session: aiohttp.ClientSession, url: str, body: bytes, streams: int) -> list[float]:
    """Per event: arrival time minus the upstream's send time, in ms."""
    delays: list[float] = []
    for _ in range(streams):
        seen: set[bytes] = set()  # a Responses stream repeats a text in its `.done` events
        async with session.post(
            url, data=body, headers={"x-goog-api-key": KEY, "content-type": "application/json"}
        ) as r:
            assert r.status == 200, r.status
            buffer = b""
            async for chunk in r.content.iter_any():
                now = time.monotonic()
                buffer += chunk
                for stamp in STAMP.findall(buffer):
                    if stamp not in seen:
                        seen.add(stamp)
                        delays.append((now - float(stamp)) * 1000)
                buffer = buffer[-64:]
    return delays


async def measure(
    base: str, pid: int | None, args, path: str, stream_path: str, body: bytes, stream_body: bytes | None = None
) -> dict:
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
        cpu2 = cpu_seconds(pid) if pid else 0.0
        result["events"] = await event_delays(session, base + stream_path, stream_body or body, args.streams)
        if pid:  # per chunk: the stream phase's CPU over the upstream events relayed
            result["cpu_chunk_us"] = (cpu_seconds(pid) - cpu2) * 1e6 / max(len(result["events"]), 1)
    return result


async def translated(base: str, pid: int, args, path: str, body: bytes) -> dict | None:
    """A translated route measured like the native one (None if it does not answer)."""
    headers = {"x-goog-api-key": KEY, "content-type": "application/json"}
    async with aiohttp.ClientSession() as session, session.post(base + path, data=body, headers=headers) as r:
        if r.status != 200:
            return None
    stream_body = json.dumps({**json.loads(body), "stream": True}).encode()
    result = await measure(base, pid, args, path, path, body, stream_body)
    return result if result["events"] else None  # an older checkout without the route


def row(name: str, *cols: str) -> str:
    return f"{name:<38}" + "".join(f"{c:>16}" for c in cols)


ROUTES = [
    ("OpenAI chat", "/v1/chat/completions", CHAT),
    ("Messages", "/v1/messages", MESSAGES),
    ("Responses", "/v1/responses", RESPONSES),
]


async def interleaved_delays(base: str, out: dict, streams: int) -> None:
    """Each route's streamed event delays measured again, round by round across the
    routes, so that a drift of the machine over the run does not favour one route."""
    routes = [("native", NATIVE_STREAM, BODY)] + [
        (name, path, json.dumps({**json.loads(body), "stream": True}).encode())
        for name, path, body in ROUTES
        if out[name]
    ]
    delays: dict[str, list[float]] = {name: [] for name, _, _ in routes}
    async with aiohttp.ClientSession() as session:
        for _ in range(streams):
            for name, path, body in routes:
                delays[name] += await event_delays(session, base + path, body, 1)
    for name, values in delays.items():
        out[name]["events"] = values


def run_proxy(cwd: Path, up_port: int, args) -> dict:
    """Start a proxy from the checkout at `cwd` and measure the native route and every
    translated route it answers."""
    port = free_port()
    proxy = start("handler.app:app", port, {"GEMINI_BASE_URL": f"http://127.0.0.1:{up_port}", "LOG_LEVEL": "INFO"}, cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        out = {"native": asyncio.run(measure(base, proxy.pid, args, NATIVE, NATIVE_STREAM, BODY))}
        for name, path, body in ROUTES:
            out[name] = asyncio.run(translated(base, proxy.pid, args, path, body))
        asyncio.run(interleaved_delays(base, out, args.streams))
    finally:
        proxy.terminate()
        proxy.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (say, a git worktree of the last release) "
        "measured in the same run, printed beside this one",
    )
    args = parser.parse_args()

    up_port = free_port()
    upstream = start("bench.upstream:app", up_port, {})
    try:
        direct = asyncio.run(measure(f"http://127.0.0.1:{up_port}", None, args, NATIVE, NATIVE_STREAM, BODY))
        this = run_proxy(ROOT, up_port, args)
        before = run_proxy(args.baseline.resolve(), up_port, args) if args.baseline else None
    finally:
        upstream.terminate()
        upstream.wait(10)
    print(
        f"Gemini Edge Proxy benchmark: {args.requests} sequential calls, {args.requests * 2} at "
        f"{args.concurrency} concurrent, {args.streams} streams; python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    report(direct, this["native"], before["native"] if before else None, args)
    routes = [(name, this[name], before.get(name) if before else None) for name, _, _ in ROUTES if this[name]]
    if routes:
        print()
        print(row("translated routes (added over native)", *(name for name, _, _ in routes)))
        native, old_native = this["native"], before["native"] if before else None
        for label, value in (
            ("non-streamed latency p50 (ms)", lambda r, n: pct(r["lat"], 0.5) - pct(n["lat"], 0.5)),
            (
                "streamed chunk delay p50 (ms)",
                lambda r, n: statistics.median(r["events"]) - statistics.median(n["events"]),
            ),
            ("proxy CPU per streamed chunk (us)", lambda r, n: r["cpu_chunk_us"] - n["cpu_chunk_us"]),
            ("proxy CPU per request, sequential (ms)", lambda r, n: r["cpu_seq_ms"] - n["cpu_seq_ms"]),
        ):
            cells = [
                f"{value(r, native):+.3f}" + (f" ({value(old, old_native):+.3f})" if old and old_native else "")
                for _, r, old in routes
            ]
            print(row(label, *cells))
        if before:
            print("(in brackets: the baseline checkout)")
    print(
        "Reference (the issue, same kind of machine): JavaScript edge proxy under Node adds ~1.2 ms p50, "
        "~0.45 ms CPU/request, ~2,500 req/s at 32 concurrent."
    )


def report(direct: dict, via: dict, old: dict | None, args) -> None:
    """The native pass-through against calling the upstream directly (and the baseline's)."""
    d50, d99 = pct(direct["lat"], 0.5), pct(direct["lat"], 0.99)
    de = statistics.median(direct["events"])
    head = ["direct", "via proxy", "added"] + (["baseline", "added"] if old else [])
    print(row("", *head))

    def cells(fmt: str, get, ref: float | None) -> list[str]:
        out = [fmt.format(get(via))] + ([fmt.format(get(via) - ref)] if ref is not None else [])
        if old:
            out += [fmt.format(get(old))] + ([fmt.format(get(old) - ref)] if ref is not None else [])
        return out

    print(row("non-streamed latency p50 (ms)", f"{d50:.3f}", *cells("{:.3f}", lambda r: pct(r["lat"], 0.5), d50)))
    print(row("non-streamed latency p99 (ms)", f"{d99:.3f}", *cells("{:.3f}", lambda r: pct(r["lat"], 0.99), d99)))
    print(
        row(
            "streamed event delay p50 (ms)", f"{de:.3f}", *cells("{:.3f}", lambda r: statistics.median(r["events"]), de)
        )
    )
    rps = [f"{via['rps']:.0f}", ""] + ([f"{old['rps']:.0f}", ""] if old else [])
    print(row(f"requests/s at {args.concurrency} concurrent", f"{direct['rps']:.0f}", *rps))
    for label, key in (
        ("proxy CPU per request, sequential (ms)", "cpu_seq_ms"),
        (f"proxy CPU per request, {args.concurrency} conc. (ms)", "cpu_ms"),
        ("proxy CPU per streamed chunk (us)", "cpu_chunk_us"),
    ):
        print(row(label, "", f"{via[key]:.3f}", "", *([f"{old[key]:.3f}", ""] if old else [])))


if __name__ == "__main__":
    main()
