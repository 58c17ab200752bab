"""Upstream answers of the wrong shape (issue 9): a clean 502 or the upstream status in
the called API's shape, never a 500, never an empty success; keys masked; large native
answers streamed through, not read whole."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..conftest import KEY_A
from ..servers import ServerThread

CHAT = "/v1/chat/completions"
AUTH = {"authorization": f"Bearer {KEY_A}"}
ODD_429 = {
    "error": {
        "code": 429,
        "message": "Quota exceeded.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"},
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": {"quotaId": "PerDay"}},
            "not-a-detail",
        ],
    }
}
BIG = 24 * 1024 * 1024


class Odd:
    """An upstream whose next answer the test picks."""

    def __init__(self) -> None:
        self.answer = "json"
        self.release = threading.Event()

    async def call(self, request: Request) -> Response:
        await request.body()
        kind = self.answer
        if kind == "json":  # a whole JSON body where an event stream was asked for
            return Response(json.dumps({"candidates": []}), media_type="application/json")
        if kind == "truncated":
            return Response(b'{"candidates": [{"content": {"parts": [{"te', media_type="application/json")
        if kind == "numbers":
            return Response(json.dumps({"embeddings": [1, 2]}), media_type="application/json")
        if kind == "odd-429":
            return Response(json.dumps(ODD_429), 429, media_type="application/json")
        if kind == "html-500":
            return Response(b"<html>oops</html>", 500, media_type="text/html")
        if kind == "error-event":
            event = {"error": {"code": 400, "message": f"API key {KEY_A} not valid.", "status": "INVALID_ARGUMENT"}}
            return Response(f"data: {json.dumps(event)}\r\n\r\n".encode(), media_type="text/event-stream")
        if kind == "big":  # Content-Length set; the rest only once the client has the start

            async def body():
                yield b"[" + b" " * (1024 * 1024)
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
                for _ in range(BIG // (1024 * 1024) - 2):
                    yield b" " * (1024 * 1024)
                yield b" " * (1024 * 1024 - 2) + b"]"

            return StreamingResponse(body(), media_type="application/json", headers={"content-length": str(BIG)})
        raise AssertionError(kind)


@pytest.fixture(scope="module")
def odd():
    upstream = Odd()
    app = Starlette(routes=[Route("/v1beta/models/{call:path}", upstream.call, methods=["POST"])])
    server = ServerThread(app).start()
    yield upstream, server.url
    server.stop()


@pytest.fixture
def odd_proxy(odd, start_proxy):
    upstream, url = odd
    upstream.release.clear()
    return upstream, start_proxy(GEMINI_BASE_URL=url)


def chat(**extra) -> dict:
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **extra}


def assert_openai_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_stream_answered_with_plain_json_is_502_not_an_empty_success(odd_proxy):
    upstream, proxy = odd_proxy
    upstream.answer = "json"
    r = httpx.post(proxy + CHAT, json=chat(stream=True), headers=AUTH)
    assert assert_openai_error(r, 502)["type"] == "api_error"


def test_truncated_json_is_502(odd_proxy):
    upstream, proxy = odd_proxy
    upstream.answer = "truncated"
    assert_openai_error(httpx.post(proxy + CHAT, json=chat(), headers=AUTH), 502)


def test_embeddings_list_of_numbers_is_502(odd_proxy):
    upstream, proxy = odd_proxy
    upstream.answer = "numbers"
    r = httpx.post(proxy + "/v1/embeddings", json={"model": "gemini-embedding-001", "input": ["a", "b"]}, headers=AUTH)
    assert_openai_error(r, 502)


@pytest.mark.parametrize("stream", [False, True])
def test_odd_429_details_keep_the_status(odd_proxy, stream):
    upstream, proxy = odd_proxy
    upstream.answer = "odd-429"
    r = httpx.post(proxy + CHAT, json=chat(stream=stream), headers=AUTH)
    assert assert_openai_error(r, 429)["type"] == "rate_limit_error"
    assert "retry-after" not in r.headers  # "soon" is no delay
    r = httpx.post(
        proxy + "/v1beta/models/gemini-2.5-flash:generateContent", json={}, headers={"x-goog-api-key": KEY_A}
    )
    assert r.status_code == 429 and r.json() == ODD_429  # native: Gemini's answer as it was


def test_html_500_is_an_error_in_shape(odd_proxy):
    upstream, proxy = odd_proxy
    upstream.answer = "html-500"
    assert_openai_error(httpx.post(proxy + CHAT, json=chat(), headers=AUTH), 500)


def test_key_masked_in_a_stream_error_event(odd_proxy):
    upstream, proxy = odd_proxy
    upstream.answer = "error-event"
    r = httpx.post(proxy + CHAT, json=chat(stream=True), headers=AUTH)
    assert r.status_code == 200
    assert KEY_A not in r.text
    assert "AIzaSy...1111" in r.text  # masked, still recognisable
    assert '"error"' in r.text


def test_large_native_answer_is_streamed_not_read_whole(odd_proxy):
    """The client gets the first megabyte while the upstream still holds the rest back
    (a proxy that read the answer whole would wait forever here)."""
    upstream, proxy = odd_proxy
    upstream.answer = "big"
    url = proxy + "/v1beta/models/gemini-2.5-flash:generateContent"
    with httpx.stream("POST", url, json={}, headers={"x-goog-api-key": KEY_A}, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-length"] == str(BIG)
        received = 0
        for chunk in r.iter_raw():
            received += len(chunk)
            if received >= 1024 * 1024:
                upstream.release.set()
        assert received == BIG
    assert upstream.release.is_set()
