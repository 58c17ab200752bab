"""The shipped server protocol (handler.server:GuardedHttpTools) under hostile clients,
second round (issue 23): a stray CRLF cannot hold a connection, pipelined requests that
are never read cannot fill memory, the header limit holds however the bytes are split,
and the server's own refusals come in the called API's error shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_hardening_server import free_port, read_all

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 8192


def start_server(fake_url: str, **env: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "handler.app:app", "--port", str(port)]
    command += ["--http", "handler.server:GuardedHttpTools", "--no-access-log", "--limit-concurrency", "30"]
    environ = {**os.environ, "GEMINI_BASE_URL": fake_url, **env}
    proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return proc, port


@pytest.fixture(scope="module")
def server(fake_server):
    proc, port = start_server(
        fake_server[1].url, HEADER_TIMEOUT="1", BODY_IDLE_TIMEOUT="1", MAX_HEADER_BYTES=str(LIMIT)
    )
    yield proc, port
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert b"Traceback" not in err


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def healthz(sock: socket.socket) -> bytes:
    """One /healthz request and its whole answer on a kept-alive socket."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while not got.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_a_lone_crlf_after_a_request_does_not_hold_the_connection(server):
    _, port = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert healthz(sock).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    sock.sendall(b"\r\n")  # cancels uvicorn's keep-alive timer; no request starts
    assert read_all(sock) == b""  # closed by the header timeout (1 s), not held for good
    assert time.monotonic() - started < 8
    sock.close()


def test_lone_crlf_sockets_cannot_starve_new_clients(server):
    """The issue's attack: such sockets under --limit-concurrency 30 made /healthz 503
    (29 held plus the new client make 30: the limit)."""
    _, port = server
    socks = []
    for _ in range(29):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert healthz(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"\r\n")
        socks.append(sock)
    time.sleep(2.5)  # past the header timeout
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    for sock in socks:
        sock.close()


HEADS = {
    "one long header": b"X-Pad: " + b"a" * (LIMIT + 2000) + b"\r\n",
    "many small headers": b"".join(b"X-H%d: v\r\n" % i for i in range(LIMIT // 8)),
    "a long target": None,
}


def request_with(kind: str, path: bytes) -> bytes:
    if kind == "a long target":
        return b"GET " + path + b"?q=" + b"a" * (LIMIT + 100) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + HEADS[kind] + b"\r\n"


@pytest.mark.parametrize("kind", list(HEADS))
@pytest.mark.parametrize("split", ["one write", "byte by byte"])
def test_header_limit_holds_however_the_bytes_are_split(server, kind, split):
    _, port = server
    data = request_with(kind, b"/v1/chat/completions")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if split == "one write":
        sock.sendall(data)
    else:
        try:
            for i in range(len(data)):
                sock.send(data[i : i + 1])
        except OSError:
            pass  # refused and closed before the end: as it should
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431")


@pytest.mark.parametrize(
    ("path", "check"),
    [
        (b"/v1/chat/completions", lambda body: body["error"]["type"] == "invalid_request_error"),
        (b"/v1/messages", lambda body: body["type"] == "error" and body["error"]["type"] == "invalid_request_error"),
        (b"/v1beta/models/m:generateContent", lambda body: body["error"]["code"] == 431),
    ],
)
def test_the_servers_refusals_are_in_the_called_apis_shape(server, path, check):
    _, port = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request_with("one long header", path))
    answer = read_all(sock)
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431") and b"application/json" in head
    assert check(json.loads(body))


def test_bytes_that_are_not_http_get_a_shaped_400(server):
    _, port = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /v1/chat/completions HTTP/1.1\r\nHo st\x01: x\r\n\r\n")
    head, _, body = read_all(sock).partition(b"\r\n\r\n")
    sock.close()
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


def test_pipelined_requests_never_read_do_not_fill_memory(server):
    """The issue's attack: 20 connections, each 256 KiB of pipelined requests, never read
    (RSS +368 MB before). Now the server stops reading ahead after a few queued ones."""
    proc, port = server
    before = rss_kib(proc.pid)
    batch = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * (256 * 1024 // 34)
    socks = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 2
        while sent < len(batch) and time.monotonic() < deadline:
            try:
                sent += sock.send(batch[sent:])
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        socks.append(sock)
    time.sleep(1)
    grown = rss_kib(proc.pid) - before
    started = time.monotonic()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    waited = time.monotonic() - started
    for sock in socks:
        sock.close()
    assert grown < 40 * 1024, f"RSS grew {grown} KiB"
    assert waited < 2


def test_ordinary_pipelining_still_works(server):
    _, port = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 5)
    got = b""
    deadline = time.monotonic() + 5
    while got.count(b"HTTP/1.1 200") < 5 and time.monotonic() < deadline:
        got += sock.recv(65536)
    sock.close()
    assert got.count(b"HTTP/1.1 200") == 5


BODY_HEAD = b"POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\nx-goog-api-key: k\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("start", "piece"),
    [
        (b"5;ext=", b"a" * 4096),  # a chunk extension that never ends
        (b"2\r\n{}\r\n0\r\nX-T: ", b"a" * 4096),  # a trailer that never ends
        (b"2\r\n{}\r\n0\r\n", b"X-T: v\r\n" * 512),  # trailers without end
    ],
    ids=["chunk extension", "trailer value", "many trailers"],
)
def test_body_framing_that_never_ends_is_cut(server, fake, start, piece):
    """Bytes that move but are not body do not keep the body idle timer going."""
    _, port = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(BODY_HEAD + start)
    sent = 0
    try:
        while sent < 16 * 1024 * 1024:
            sock.sendall(piece)
            sent += len(piece)
    except OSError:
        pass  # closed by the server: as it should
    sock.close()
    assert sent < 8 * 1024 * 1024, sent  # closed early (loopback buffers hold a few MB), not after 16 MB
    assert fake.received == []


def test_a_chunked_body_in_many_small_chunks_still_passes(server, fake):
    _, port = server
    body = b'{"contents": [{"parts": [{"text": "' + b"x" * 50_000 + b'"}]}]}'
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(body[i : i + 7]), body[i : i + 7]) for i in range(0, len(body), 7))
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        BODY_HEAD.replace(b"x-goog-api-key: k", b"x-goog-api-key: AIzaSy-a-key-of-forty-characters-xxxxxxxx")
        + chunks
        + b"0\r\n\r\n"
    )
    head = sock.recv(65536)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200"), head[:200]


def status_of(port: int, pieces: list[bytes]) -> bytes:
    """The status line the server answers to a request sent in these pieces."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for piece in pieces:
            sock.sendall(piece)
    except OSError:
        pass  # refused and closed before the end
    got = b""
    try:
        while b"\r\n" not in got and (chunk := sock.recv(65536)):
            got += chunk
    except OSError:
        pass
    sock.close()
    return got.split(b"\r\n", 1)[0]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.tuples(st.integers(1, 20), st.integers(0, 3000)), min_size=1, max_size=12),
    st.lists(st.integers(0, 40_000), max_size=20),
)
def test_the_header_limit_is_the_same_however_the_bytes_are_split(server, headers, cuts):
    """Property: one write or many pieces, a head clearly within the limit passes and one
    past it gets 431 (near the limit the read count also sees the request line)."""
    _, port = server
    lines = b"".join(b"X-%s: %s\r\n" % (b"n" * name, b"v" * value) for name, value in headers)
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"
    parsed = len(b"/healthz") + 4 + len(b"Host") + 1 + sum(name + 2 + value + 4 for name, value in headers)
    whole = status_of(port, [data])
    split = status_of(
        port, [data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True) if data[a:b]]
    )
    if parsed <= LIMIT - 64:
        assert whole == split == b"HTTP/1.1 200 OK"
    elif parsed > LIMIT:
        assert whole == split == b"HTTP/1.1 431 Request Header Fields Too Large"
    else:
        assert {whole, split} <= {b"HTTP/1.1 200 OK", b"HTTP/1.1 431 Request Header Fields Too Large"}


def test_the_concurrency_limit_503_is_in_the_called_apis_shape(server):
    _, port = server
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(30)]  # the limit is 30
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        head, _, body = read_all(sock).partition(b"\r\n\r\n")
        sock.close()
    finally:
        for one in held:
            one.close()
    assert head.startswith(b"HTTP/1.1 503") and b"application/json" in head
    assert json.loads(body)["error"]["type"] == "api_error"
