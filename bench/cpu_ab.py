"""Proxy CPU per native call, this checkout against another, interleaved round by round.

    python bench/cpu_ab.py --baseline ../before [--rounds 6] [--env NAME=VALUE ...]

bench.py measures a baseline in the same run too, but one proxy after the other; on a
shared VM whose speed drifts over minutes that favours whichever ran in the quieter
minute. Here each round starts both proxies afresh, in alternating order, against the same
fast upstream, and reads each proxy's CPU time (user + system, from /proc) for 2,000
calls one at a time and 4,000 at 32 concurrent. The medians of the rounds are printed
with every round, so the spread is in view. `--env` sets an environment variable for
this checkout's proxy only (`--env METRICS=false`: what the EMF record costs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

import aiohttp

from bench import BODY, NATIVE, ROOT, cpu_seconds, free_port, latencies, start, throughput  # bench/bench.py

LOADS = ((1, 2000), (32, 4000))


async def cpu_per_call(port: int, pid: int) -> dict[int, float]:
    url = f"http://127.0.0.1:{port}{NATIVE}"
    out = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await latencies(session, url, BODY, 300)  # warm: aiohttp loaded, connections open
        for concurrency, calls in LOADS:
            before = cpu_seconds(pid)
            if concurrency == 1:
                await latencies(session, url, BODY, calls)
            else:
                await throughput(session, url, BODY, calls, concurrency)
            out[concurrency] = (cpu_seconds(pid) - before) / calls * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of the proxy")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for this checkout's proxy")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    up_port = free_port()
    upstream = start("bench.upstream:app", up_port, {})
    checkouts = {"this checkout": (ROOT, extra), "baseline": (args.baseline.resolve(), {})}
    results: dict[str, dict[int, list[float]]] = {name: {c: [] for c, _ in LOADS} for name in checkouts}
    try:
        for round_ in range(args.rounds):
            order = list(checkouts) if round_ % 2 == 0 else list(reversed(checkouts))
            for name in order:
                cwd, env = checkouts[name]
                port = free_port()
                env = {"GEMINI_BASE_URL": f"http://127.0.0.1:{up_port}", "LOG_LEVEL": "INFO", **env}
                proxy = start("handler.app:app", port, env, cwd)
                try:
                    for concurrency, value in asyncio.run(cpu_per_call(port, proxy.pid)).items():
                        results[name][concurrency].append(value)
                finally:
                    proxy.terminate()
                    proxy.wait(10)
    finally:
        upstream.terminate()
        upstream.wait(10)
    print(f"proxy CPU ms per native call, {args.rounds} interleaved rounds (median, then each round)")
    for name, by_load in results.items():
        for concurrency, values in by_load.items():
            rounds = " ".join(f"{v:.3f}" for v in values)
            print(f"{name:14} {concurrency:2} at once: {statistics.median(values):.3f}   ({rounds})")


if __name__ == "__main__":
    main()
