"""The field's measures, with the peers beside us in one run (`make bench`).

    python bench/field.py [--requests 1000] [--block 20] [--streams 30] [--spawns 7] [--p99-bound 50]
                          [--node-peer DIR] [--litellm PATH] [--only ours,node] [--json FILE]

Starts the fast fake upstream (bench/upstream.py), then this proxy (uvicorn, uvloop and
the guarded httptools protocol, as deployed), the JavaScript edge proxy
gemini-balance-lite under Node (bench/node_peer.mjs serves its fetch handler over
node:http) and, when installed, LiteLLM's proxy (bench/peers.py says how each is found),
all on loopback against that one upstream, and prints one table:
- added latency p50 and p99, one request at a time, per lane (native; OpenAI chat,
  Anthropic Messages and OpenAI Responses, each translated to Gemini): the requests go
  round-robin over the proxies and a direct call to the upstream, in blocks of `--block`
  calls (20: a proxy serving one call after another, as it would, not one whose caches
  three other servers have just emptied), so a drift of the shared machine falls on all
  of them alike; "added" is the proxy's percentile minus the direct call's in the same rounds;
- streamed, per lane: time to the first content event (TTFB) and the gap between
  content events as the client sees them (the upstream sends one every BENCH_GAP_MS);
- CPU per call (the proxy's process tree, /proc user+system time over the sequential
  phase, 10 ms ticks: over 1,000 calls a resolution of 0.01 ms);
- native requests/s at the highest concurrency (1, 2, 4, ... 128) whose p99 stays
  under `--p99-bound` ms (end to end, the upstream's share included);
- RSS when ready and at the end (VmHWM: the peak, the concurrency sweep included);
- cold start, median of `--spawns` spawns taken in turns: from spawning to the first
  readiness answer, and to the first proxied native answer. This proxy is spawned as on
  Lambda: infra/run.sh of the built package in an interpreter without site-packages
  (bench/coldstart.py's set-up); Node runs the adapter; LiteLLM its `litellm` command;
- the ratios to the Node proxy, against the targets of issue 24.
A peer that is missing is left out with a message saying how to get it. Figures depend on
the machine and on what else runs on it: compare the columns of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import coldstart
import loadgen
import peers
import uvloop

from bench import BODY, KEY, NATIVE, NATIVE_STREAM, ROOT, STAMP, cpu_seconds, free_port, pct

CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Say something short."}]}
MESSAGES = {
    "model": "gemini-2.5-flash",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Say something short."}],
}
RESPONSES = {"model": "gemini-2.5-flash", "input": "Say something short.", "store": False}
EVENTS, GAP_MS = 10, 5.0  # the fake upstream's streams: 10 events 5 ms apart
LEVELS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class Lane:
    """One protocol in, Gemini upstream: the request each proxy gets."""

    name: str
    path: str
    stream_path: str
    body: bytes
    stream_body: bytes
    headers: dict[str, str]


def _lane(name: str, path: str, body: dict, auth: dict[str, str]) -> Lane:
    headers = {**auth, "content-type": "application/json"}
    return Lane(name, path, path, json.dumps(body).encode(), json.dumps({**body, "stream": True}).encode(), headers)


NATIVE_LANE = Lane(
    "native", NATIVE, NATIVE_STREAM, BODY, BODY, {"x-goog-api-key": KEY, "content-type": "application/json"}
)
LANES = [
    NATIVE_LANE,
    _lane("OpenAI chat", "/v1/chat/completions", CHAT, {"authorization": f"Bearer {KEY}"}),
    _lane("Anthropic Messages", "/v1/messages", MESSAGES, {"x-api-key": KEY, "anthropic-version": "2023-06-01"}),
    _lane("Responses", "/v1/responses", RESPONSES, {"authorization": f"Bearer {KEY}"}),
]


@dataclass
class Running:
    """A proxy (or the upstream itself, `direct`) being measured."""

    name: str
    base: str
    lanes: dict[str, Lane]
    process: subprocess.Popen | None = None
    results: dict = field(default_factory=dict)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids()) if self.process else 0.0

    def pids(self) -> list[int]:
        return tree(self.process.pid) if self.process else []

    def memory_mb(self, key: str) -> float:
        return sum(status_kb(pid, key) for pid in self.pids()) / 1024


def tree(pid: int) -> list[int]:
    """The process and its descendants (LiteLLM may run workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def call(session: aiohttp.ClientSession, url: str, lane: Lane) -> float:
    started = time.perf_counter()
    async with session.post(url, data=lane.body, headers=lane.headers) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return (time.perf_counter() - started) * 1000


async def stream(session: aiohttp.ClientSession, url: str, lane: Lane) -> tuple[float, list[float]]:
    """(time to the first content event, gaps between content events), in ms."""
    started = time.perf_counter()
    arrivals: list[float] = []
    seen: set[bytes] = set()  # a Responses stream repeats a text in its `.done` events
    async with session.post(url, data=lane.stream_body, headers=lane.headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
        buffer = b""
        async for chunk in response.content.iter_any():
            now = time.perf_counter()
            buffer += chunk
            for stamp in STAMP.findall(buffer):
                if stamp not in seen:
                    seen.add(stamp)
                    arrivals.append(now)
            buffer = buffer[-64:]
    if not arrivals:
        raise RuntimeError(f"{url}: no content events")
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)]
    return (arrivals[0] - started) * 1000, gaps


def lane_url(target: Running, lane: Lane, streamed: bool) -> str:
    own = target.lanes[lane.name]
    return target.base + (own.stream_path if streamed else own.path)


async def sequential(targets: list[Running], lane: Lane, requests: int, streams: int, block: int) -> None:
    """Round-robin in blocks of `block` calls, one request at a time: latencies, CPU per
    call, then streams (round-robin one by one)."""
    serving = [t for t in targets if lane.name in t.lanes]
    sessions = {t.name: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for t in serving}
    try:
        for target in list(serving):  # warm up: connections, lazy imports, caches
            try:
                for _ in range(50):
                    await call(sessions[target.name], lane_url(target, lane, False), target.lanes[lane.name])
                for _ in range(2):
                    await stream(sessions[target.name], lane_url(target, lane, True), target.lanes[lane.name])
            except (RuntimeError, aiohttp.ClientError) as error:  # a peer that cannot serve this lane
                print(f"{target.name} left out of the {lane.name} lane: {error}", file=sys.stderr)
                serving.remove(target)
        lat: dict[str, list[float]] = {t.name: [] for t in serving}
        cpu0 = {t.name: t.cpu() for t in serving}
        for i in range(0, requests, block):
            turn = i // block % len(serving)
            for target in serving[turn:] + serving[:turn]:
                for _ in range(min(block, requests - i)):
                    lat[target.name].append(
                        await call(sessions[target.name], lane_url(target, lane, False), target.lanes[lane.name])
                    )
        cpu1 = {t.name: t.cpu() for t in serving}
        ttfb: dict[str, list[float]] = {t.name: [] for t in serving}
        gaps: dict[str, list[float]] = {t.name: [] for t in serving}
        for i in range(streams):
            for target in serving[i % len(serving) :] + serving[: i % len(serving)]:
                first, between = await stream(
                    sessions[target.name], lane_url(target, lane, True), target.lanes[lane.name]
                )
                ttfb[target.name].append(first)
                gaps[target.name] += between
        for target in serving:
            target.results[lane.name] = {
                "p50": pct(lat[target.name], 0.5),
                "p99": pct(lat[target.name], 0.99),
                "cpu_ms": (cpu1[target.name] - cpu0[target.name]) * 1000 / requests if target.process else None,
                "ttfb": statistics.median(ttfb[target.name]),
                "gap50": pct(gaps[target.name], 0.5),
                "gap99": pct(gaps[target.name], 0.99),
            }
    finally:
        for session in sessions.values():
            await session.close()


async def load(target: Running, concurrency: int, total: int) -> tuple[float, float, float | None]:
    """`total` native calls from `concurrency` clients: (requests/s, p99 ms, CPU ms per call)."""
    lane = target.lanes["native"]
    request = loadgen.request_bytes(lane.path, lane.headers, lane.body)
    connections = await loadgen.connect(int(target.base.rsplit(":", 1)[1]), request, concurrency)
    cpu0 = target.cpu()
    elapsed, latencies = await loadgen.drive(connections, request, total)
    cpu = (target.cpu() - cpu0) * 1000 / total if target.process else None
    return total / elapsed, pct(latencies, 0.99), cpu


def sweep(targets: list[Running], bound: float) -> None:
    """Requests/s at the highest concurrency whose p99 stays under `bound` ms. Every level
    is tried until two in a row miss the bound: on a shared machine one unlucky level
    should not end a proxy's sweep."""
    going = [t for t in targets if "native" in t.lanes]
    misses = {t.name: 0 for t in going}
    for target in going:
        target.results["rps"] = {"rps": 0.0, "concurrency": 0, "p99": 0.0, "cpu_ms": None}
    for level in LEVELS:
        for target in list(going):
            rps, p99, cpu = uvloop.run(load(target, level, max(600, 60 * level)))
            if p99 > bound:
                misses[target.name] += 1
                if misses[target.name] == 2:
                    going.remove(target)
                continue
            misses[target.name] = 0
            target.results["rps"] = {"rps": rps, "concurrency": level, "p99": p99, "cpu_ms": cpu}
        going = going[1:] + going[:1]  # take turns at going first


def wait_ready(target: Running, path: str, seconds: float = 60) -> None:
    port = int(target.base.rsplit(":", 1)[1])
    deadline = time.monotonic() + seconds
    while not coldstart.answered(port, path):
        if time.monotonic() > deadline or (target.process and target.process.poll() is not None):
            raise RuntimeError(f"{target.name} did not become ready on {path}")
        time.sleep(0.05)


def start(spec: peers.Peer, upstream: str) -> Running:
    port = free_port()
    command, env = spec.command(port, upstream)
    process = subprocess.Popen(command, cwd=spec.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = Running(spec.name, f"http://127.0.0.1:{port}", spec.lanes(LANES), process)
    try:
        wait_ready(target, spec.ready_path, spec.start_seconds)
    except RuntimeError:
        stop(target)
        raise
    time.sleep(0.5)  # let start-up work settle before reading the memory
    target.results["rss_ready"] = target.memory_mb("VmRSS")
    return target


def stop(target: Running) -> None:
    if target.process and target.process.poll() is None:
        target.process.terminate()
        try:
            target.process.wait(10)
        except subprocess.TimeoutExpired:
            target.process.kill()


def cold_starts(specs: list[peers.Peer], upstream: str, spawns: int) -> dict[str, dict[str, float]]:
    """Median times from spawn to readiness and to the first proxied answer, in turns."""
    times: dict[str, dict[str, list[float]]] = {s.name: {"ready": [], "first": []} for s in specs}
    for i in range(spawns):
        for spec in specs[i % len(specs) :] + specs[: i % len(specs)]:
            if i >= spec.max_spawns:
                continue
            for what, path in (("ready", spec.ready_path), ("first", spec.lanes(LANES)["native"].path)):
                port = free_port()
                command, env = spec.cold_command(port, upstream)
                key = spec.client_key or coldstart.KEY
                times[spec.name][what].append(
                    coldstart.time_to_answer_ms(command, env, port, path, key, spec.start_seconds)
                )
    return {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip() or "no node"
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}, Node {node}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="sequential calls per lane and proxy")
    parser.add_argument(
        "--block",
        type=int,
        default=20,
        help="sequential calls to one proxy before the next proxy's turn (1: call by call)",
    )
    parser.add_argument("--streams", type=int, default=30, help="streams per lane and proxy")
    parser.add_argument("--spawns", type=int, default=7, help="cold starts per proxy and measure")
    parser.add_argument("--p99-bound", type=float, default=50.0, help="ms; the bound of the throughput sweep")
    parser.add_argument("--node-peer", type=Path, help="a checkout of tech-shrimp/gemini-balance-lite")
    parser.add_argument("--litellm", type=Path, help="the `litellm` command of a venv with LiteLLM's proxy")
    parser.add_argument("--only", help="comma list of: ours, node, litellm")
    parser.add_argument("--skip", default="", help="comma list of phases to skip: lanes, sweep, cold")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    specs = peers.available(args.node_peer, args.litellm, args.only)
    skip = set(filter(None, args.skip.split(",")))

    up_port = free_port()
    upstream_url = f"http://127.0.0.1:{up_port}"
    env = {**os.environ, "BENCH_EVENTS": str(EVENTS), "BENCH_GAP_MS": str(GAP_MS)}
    command = [sys.executable, "-m", "uvicorn", "bench.upstream:app", "--port", str(up_port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    upstream_process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    direct = Running("direct", upstream_url, {"native": NATIVE_LANE})
    targets: list[Running] = []
    folder = tempfile.TemporaryDirectory()
    try:
        for spec in specs:
            spec.prepare(Path(folder.name))
        wait_ready(direct, "/", 15)
        for spec in list(specs):
            try:
                targets.append(start(spec, upstream_url))
            except RuntimeError as error:
                print(f"{spec.name} left out: {error}", file=sys.stderr)
                specs.remove(spec)
        if "lanes" not in skip:
            for lane in LANES:
                print(f"lane {lane.name} ...", file=sys.stderr)
                # The direct call rides in every lane's rounds: the reference of "added".
                reference = Running("direct", upstream_url, {lane.name: NATIVE_LANE})
                asyncio.run(sequential([reference, *targets], lane, args.requests, args.streams, args.block))
                direct.results[lane.name] = reference.results[lane.name]
        if "sweep" not in skip:
            print("throughput sweep ...", file=sys.stderr)
            sweep([direct, *targets], args.p99_bound)
        for target in targets:
            target.results["rss_peak"] = target.memory_mb("VmHWM")
    finally:
        for target in targets:
            stop(target)
        if "cold" not in skip and specs:
            print("cold starts ...", file=sys.stderr)
            try:
                for name, figures in cold_starts(specs, upstream_url, args.spawns).items():
                    next(t for t in targets if t.name == name).results["cold"] = figures
            finally:
                upstream_process.terminate()
                upstream_process.wait(10)
        else:
            upstream_process.terminate()
            upstream_process.wait(10)
        folder.cleanup()
    import report

    print(report.table([direct, *targets], args, machine(), [s.describe() for s in specs], EVENTS, GAP_MS))
    if args.json:
        args.json.write_text(json.dumps({t.name: t.results for t in [direct, *targets]}, indent=1))


if __name__ == "__main__":
    main()
