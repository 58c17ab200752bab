"""Native pass-through, second round (issue 23): a keyless upload continuation stays
under /upload/ and never forwards a token; upstream headers cannot pose as the proxy's;
a stream's in-stream error that quotes the key is masked."""

from __future__ import annotations

import base64
import json
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from handler.affinity import binding
from handler.keys.masking import mask

from ..conftest import KEY_A, KEY_B, TOKEN
from ..servers import ServerThread
from .test_hardening_native import upload_start
from .test_hardening_server import read_all

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"


def raw_request(proxy: str, method: str, target: str, body: bytes = b"", **headers: str) -> bytes:
    """A request sent as written (httpx would resolve dot segments): the whole answer."""
    sock = socket.create_connection(("127.0.0.1", int(proxy.rsplit(":", 1)[1])), timeout=10)
    lines = [f"{method} {target} HTTP/1.1", "Host: x", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    answer = read_all(sock)
    sock.close()
    return answer


@pytest.mark.parametrize(
    "target",
    [
        "/upload/v1beta/files/../../../v1beta/models/gemini-2.5-flash:generateContent?upload_id=UP1",
        "/upload/v1beta/files/%2E%2E/%2e%2e/%2E%2e/v1beta/models/gemini-2.5-flash:generateContent?upload_id=UP1",
        "/upload/v1beta/files/..%2F..%2F..%2Fv1beta%2Fmodels%2Fgemini-2.5-flash:generateContent?upload_id=UP1",
        "/upload/./v1beta/files?upload_id=UP1",
    ],
)
@pytest.mark.parametrize("closed", [False, True])
def test_an_upload_continuation_cannot_leave_upload(start_proxy, fake, target, closed):
    proxy = start_proxy(ALLOW_CLIENT_KEYS="false", ACCESS_TOKENS=TOKEN, GEMINI_API_KEYS=KEY_A) if closed else None
    proxy = proxy or start_proxy()
    answer = raw_request(proxy, "PUT", target, b'{"contents": []}', **{"content-type": "application/json"})
    assert answer.startswith(b"HTTP/1.1 400")
    assert fake.received == []  # nothing went upstream


@pytest.mark.parametrize("name", ["%6Bey", "k%65y", "%6b%65%79", "key"])
def test_an_upload_continuation_never_forwards_a_token(start_proxy, fake, name):
    proxy = start_proxy(ALLOW_CLIENT_KEYS="false", ACCESS_TOKENS=TOKEN, GEMINI_API_KEYS=KEY_A)
    httpx.put(f"{proxy}/upload/v1beta/files?upload_id=UP1&{name}={TOKEN}", content=b"data")
    sent = fake.received[-1]
    assert sent.path == "/upload/v1beta/files" and sent.query.get("upload_id") == "UP1"
    assert TOKEN not in json.dumps(sent.query) and TOKEN not in json.dumps(sent.headers)


def test_a_plain_upload_continuation_still_works(proxy, fake):
    url = upload_start(proxy).headers["x-goog-upload-url"]
    assert url.startswith(proxy + "/upload/v1beta/files?upload_id=")
    r = httpx.put(url, content=b"data", headers={"x-goog-upload-command": "upload, finalize"})
    assert r.status_code == 200 and r.json()["file"]["name"].startswith("files/")


class Posing:
    """An upstream that sends headers named like the proxy's own, and a stream whose
    in-stream error quotes the key it was called with."""

    async def call(self, request: Request) -> Response:
        await request.body()
        key = request.headers.get("x-goog-api-key", "")
        headers = {"x-proxy-key": "AIzaSy-upstream-says-so", "X-Proxy-Attempts": "99", "x-goog-thing": "kept"}
        if "stream" in request.url.path:

            async def events():
                yield b'data: {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}\r\n\r\n'
                error = {"error": {"code": 400, "message": f"API key {key} not valid.", "status": "INVALID_ARGUMENT"}}
                yield f"data: {json.dumps(error)}\r\n\r\n".encode()

            return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
        return JSONResponse({"candidates": [], "note": "plain"}, headers=headers)


@pytest.fixture(scope="module")
def posing():
    server = ServerThread(
        Starlette(routes=[Route("/v1beta/models/{call:path}", Posing().call, methods=["POST"])])
    ).start()
    yield server.url
    server.stop()


def test_upstream_headers_cannot_pose_as_the_proxys(start_proxy, posing):
    proxy = start_proxy(GEMINI_BASE_URL=posing)
    r = httpx.post(proxy + GENERATE, headers={"x-goog-api-key": KEY_A}, json={"contents": []})
    assert r.status_code == 200
    assert r.headers.get_list("x-proxy-key") == [mask(KEY_A)]
    assert r.headers.get_list("x-proxy-attempts") == ["1"]
    assert r.headers["x-goog-thing"] == "kept"


def test_an_in_stream_error_quoting_the_key_is_masked(start_proxy, posing):
    proxy = start_proxy(GEMINI_BASE_URL=posing)
    with httpx.stream(
        "POST",
        proxy + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        headers={"x-goog-api-key": KEY_A},
        json={"contents": []},
    ) as r:
        body = r.read()
    assert r.status_code == 200
    assert KEY_A.encode() not in body
    assert mask(KEY_A).encode() in body and b'"text": "hi"' in body


@pytest.mark.parametrize("name", ["%6Bey", "k%65y", "key"])
def test_a_joined_list_never_forwards_a_token(start_proxy, fake, name):
    """A list over every pool key (affinity/lists.py) drops `key` however it is encoded."""
    proxy = start_proxy(ALLOW_CLIENT_KEYS="false", ACCESS_TOKENS=TOKEN, GEMINI_API_KEYS=f"{KEY_A},{KEY_B}")
    r = httpx.get(f"{proxy}/v1beta/files?{name}={TOKEN}&pageSize=5")
    assert r.status_code == 200, r.text
    lists = [item for item in fake.received if item.path == "/v1beta/files"]
    assert len(lists) == 2
    for item in lists:
        assert TOKEN not in json.dumps(item.query) and item.query.get("pageSize") == "5"


def test_a_page_token_cannot_add_parameters(start_proxy, fake):
    proxy = start_proxy(ALLOW_CLIENT_KEYS="false", ACCESS_TOKENS=TOKEN, GEMINI_API_KEYS=f"{KEY_A},{KEY_B}")
    inner = {binding.tag(KEY_A): "next&alt=sse&key=x", binding.tag(KEY_B): "p2#frag"}
    token = "gep." + base64.urlsafe_b64encode(json.dumps(inner).encode()).decode().rstrip("=")
    httpx.get(f"{proxy}/v1beta/files", params={"pageToken": token}, headers={"authorization": f"Bearer {TOKEN}"})
    # (the fake's own tokens are numbers: it refuses these, after recording what came)
    sent = {item.key: item.query for item in fake.received if item.path == "/v1beta/files"}
    assert sent[KEY_A] == {"pageToken": "next&alt=sse&key=x"}
    assert sent[KEY_B] == {"pageToken": "p2#frag"}
