"""The server configuration we ship holds slow and oversized clients (issue 9): header
and body read timeouts and a header size limit (handler/server.py), named in the
Dockerfile, infra/run.sh and the README's start command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ..conftest import KEY_A
from ..servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "--http handler.server:GuardedHttpTools"


@pytest.fixture(scope="module")
def guarded(fake_server):
    """The proxy under uvicorn as shipped, with short limits so the test is quick."""
    port = free_port()
    env = {
        **os.environ,
        "GEMINI_BASE_URL": fake_server[1].url,
        "HEADER_TIMEOUT": "1",
        "BODY_IDLE_TIMEOUT": "1",
        "MAX_HEADER_BYTES": "8192",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "handler.app:app",
        "--port",
        str(port),
        *PROTOCOL.split(),
        "--no-access-log",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(proc, f"http://127.0.0.1:{port}")
    yield port
    proc.terminate()
    proc.wait(10)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the 10 s socket timeout fails the test)."""
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def test_headers_that_trickle_are_cut_off(guarded):
    sock = socket.create_connection(("127.0.0.1", guarded), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    for _ in range(3):  # a byte now and then never completes the headers
        time.sleep(0.4)
        try:
            sock.sendall(b"X")
        except OSError:
            break
    assert read_all(sock) == b""  # closed by the server, no answer
    sock.close()


def test_idle_connection_is_closed(guarded):
    sock = socket.create_connection(("127.0.0.1", guarded), timeout=10)
    assert read_all(sock) == b""
    sock.close()


def test_body_that_stalls_is_cut_off_and_nothing_goes_upstream(guarded, fake):
    sock = socket.create_connection(("127.0.0.1", guarded), timeout=10)
    head = f"POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: x\r\nx-goog-api-key: {KEY_A}\r\nContent-Length: 1000\r\n\r\n"
    sock.sendall(head.encode() + b'{"contents": [')
    assert read_all(sock) == b""
    sock.close()
    assert fake.received == []


def test_oversized_headers_are_431(guarded):
    sock = socket.create_connection(("127.0.0.1", guarded), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 20_000 + b"\r\n")
    assert read_all(sock).startswith(b"HTTP/1.1 431")
    sock.close()


def test_normal_requests_pass_and_keep_alive(guarded, fake):
    with httpx.Client(base_url=f"http://127.0.0.1:{guarded}") as client:
        body = {"contents": [{"parts": [{"text": "x" * 200_000}]}]}  # one large first read: body, not headers
        for _ in range(3):
            r = client.post(
                "/v1beta/models/gemini-2.5-flash:generateContent",
                json=body,
                headers={"x-goog-api-key": KEY_A, "x-pad": "p" * 4000},
            )
            assert r.status_code == 200
    assert len(fake.generate_calls) == 3


def test_shipped_commands_use_the_guarded_protocol():
    assert PROTOCOL in (ROOT / "infra" / "run.sh").read_text()
    assert "handler.server:GuardedHttpTools" in (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "--http handler.server:GuardedHttpTools" in readme
    for name in ("HEADER_TIMEOUT", "BODY_IDLE_TIMEOUT", "MAX_HEADER_BYTES"):
        assert name in readme
