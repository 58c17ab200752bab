"""A hostile peer costs at most the configured limits in memory and its timeouts in time
(issue 23): the proxy (its own process, the shipped server protocol) fetches eight media
URLs from a peer whose header line never ends (64 MB each if let), or calls such a peer
as its Gemini upstream eight times; its RSS and how fast it answers /healthz meanwhile
are measured from outside.

Robust on a loaded 2-core machine: the bounds are generous next to what the attack cost
before (RSS +115-135 MB, /healthz stalled 3.5-4.7 s) but still fail it."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import KEY_A
from .test_hardening_round2_server import rss_kib
from .test_hardening_server import free_port

ROOT = Path(__file__).resolve().parents[2]

# The proxy with loopback media allowed (the media fetch refuses private addresses).
PROXY = """
import ipaddress, sys
import uvicorn
from handler.translate import media
strict = media.address_allowed
media.address_allowed = lambda ip: ip == ipaddress.ip_address("127.0.0.1") or strict(ip)
uvicorn.run("handler.app:app", port=int(sys.argv[1]), http="handler.server:GuardedHttpTools",
            log_level="warning", access_log=False)
"""

# A peer that answers every request with a header line that never ends (64 MB if let).
PEER = """
import asyncio, sys

async def endless(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Type: image/png\\r\\nX-Big: ")
        piece = b"a" * 65536
        for _ in range(1024):
            writer.write(piece)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(endless, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def spawn(code: str, port: int, **env: str) -> subprocess.Popen:
    environ = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_up(url: str) -> None:
    for _ in range(400):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never came up")


@pytest.fixture(params=["media URL", "upstream"])
def hostile(request, fake_server):
    """(proxy process, its URL, the hostile peer's URL, which peer): the peer is either a
    media URL of a chat request or the Gemini upstream itself."""
    proxy_port, peer_port = free_port(), free_port()
    peer_url = f"http://127.0.0.1:{peer_port}"
    upstream = peer_url if request.param == "upstream" else fake_server[1].url
    proxy = spawn(PROXY, proxy_port, GEMINI_BASE_URL=upstream)
    peer = spawn(PEER, peer_port)
    wait_up(f"http://127.0.0.1:{proxy_port}/healthz")
    yield proxy, f"http://127.0.0.1:{proxy_port}", peer_url, request.param
    for process in (proxy, peer):
        process.terminate()
    _, err = proxy.communicate(timeout=10)
    peer.communicate(timeout=10)
    assert b"Traceback" not in err and b"Fatal error" not in err, err.decode()[-2000:]


def test_a_hostile_peer_costs_bounded_memory_and_never_stalls_the_loop(hostile, fake):
    proxy, url, peer, which = hostile
    with httpx.Client(timeout=10) as warm:
        for _ in range(20):  # the routes, the media module and the client loaded: a steady baseline
            warm.get(url + "/healthz")
    before = rss_kib(proxy.pid)
    peak = before
    latencies: list[float] = []
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        with httpx.Client(timeout=30) as http:
            while not done.is_set():
                started = time.monotonic()
                http.get(url + "/healthz")
                latencies.append(time.monotonic() - started)
                peak = max(peak, rss_kib(proxy.pid))
                time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    if which == "media URL":  # one request naming eight such URLs
        parts = [{"type": "text", "text": "describe"}]
        parts += [{"type": "image_url", "image_url": {"url": f"{peer}/{i}.png"}} for i in range(8)]
        r = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": parts}]},
            headers={"authorization": f"Bearer {KEY_A}"},
            timeout=60,
        )
        expected = 400  # the media could not be read: a clean refusal
    else:  # eight calls to an upstream that answers so
        for _ in range(8):
            r = httpx.post(
                url + "/v1beta/models/gemini-2.5-flash:generateContent",
                json={"contents": [{"parts": [{"text": "hi"}]}]},
                headers={"x-goog-api-key": KEY_A},
                timeout=60,
            )
            assert r.status_code == 502, r.text
        expected = 502
    took = time.monotonic() - started
    time.sleep(0.2)
    done.set()
    watcher.join(30)
    assert r.status_code == expected, r.text
    assert fake.generate_calls == []
    assert took < 10, took  # refused once the head passed its limit, not after the 15 s fetch timeout
    grown = peak - before
    assert grown < 40 * 1024, f"RSS grew {grown} KiB"  # the attack cost 115-135 MB before
    assert latencies, "no /healthz answered during the attack"
    slow = [t for t in latencies if t > 0.05]
    assert max(latencies) < 1.0, max(latencies)  # stalled 3.5-4.7 s before
    assert len(slow) <= max(2, len(latencies) // 10), (len(slow), len(latencies), statistics.median(latencies))
