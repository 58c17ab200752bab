"""Native pass-through and client faults (issue 9): what reaches Gemini, and when."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest

from handler.native import upstream_path, upstream_query

from ..conftest import KEY_A

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = json.dumps({"contents": [{"parts": [{"text": "hi"}]}]}).encode()


def wait_for(check, what: str, seconds: float = 10.0):
    """Poll until `check()` is truthy (an ordering wait, not a timed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def log_fields(caplog) -> list[dict]:
    return [r.fields for r in caplog.records if getattr(r, "fields", None)]


def connect(proxy: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(proxy.rsplit(":", 1)[1])), timeout=10)


@pytest.mark.parametrize("name", [b"%6Bey", b"%6b%65%79", b"k%65y", b"%4Bey"])
def test_encoded_key_name_is_recognised_and_removed(proxy, fake, name):
    query = name.decode()
    r = httpx.get(f"{proxy}/v1beta/models?{query}={KEY_A}&pageSize=5")
    if name == b"%4Bey":  # "Key" is not "key": not a credential, so no key at all
        assert r.status_code == 401
        return
    assert r.status_code == 200
    sent = fake.received[-1]
    assert sent.key == KEY_A and sent.query == {"pageSize": "5"}
    assert KEY_A not in json.dumps(sent.query)


def test_upstream_query_unit():
    assert upstream_query(b"%6Bey=a&alt=sse&k%65y=b&ke+y=c") == "?alt=sse&ke+y=c"
    assert upstream_query(b"%6Bey=a") == ""


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/gemini-2.5-flash%3Falt=json:generateContent",
        "/v1beta/models/gemini-2.5-flash%23x:generateContent",
        "/v1beta/models/gemini-2.5-flash%3Fkey=other:generateContent",
    ],
)
def test_encoded_query_and_fragment_in_path_stay_in_the_path(proxy, fake, path):
    r = httpx.post(
        proxy + path + "?pageSize=1",
        content=BODY,
        headers={"x-goog-api-key": KEY_A, "content-type": "application/json"},
    )
    assert r.status_code == 200
    sent = fake.received[-1]
    assert sent.path == path  # still encoded: the same path, no new query
    assert sent.query == {"pageSize": "1"}
    assert sent.key == KEY_A


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/files/..%2F..%2Fmodels",
        "/v1beta/models/%2E%2E/gemini-2.5-flash:generateContent",
        "/v1beta/models/.%2e/x",
        "/v1beta/files/a%2Fb",
        "/v1beta/files/a%5C..%5Cb",
    ],
)
def test_dot_segments_and_encoded_slashes_are_refused(proxy, fake, path):
    r = httpx.post(proxy + path, content=BODY, headers={"x-goog-api-key": KEY_A, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fake.received == []


def test_upstream_path_without_raw_path_is_encoded_again():
    """Mangum may leave raw_path unset: the decoded path must not turn into a query."""
    assert upstream_path({"path": "/v1beta/models/a?b#c:x", "raw_path": None}) == "/v1beta/models/a%3Fb%23c:x"
    assert upstream_path({"path": "/v1beta/models/a b:x"}) == "/v1beta/models/a%20b:x"


def test_client_that_aborts_mid_body_sends_nothing_upstream(proxy, fake, caplog):
    caplog.set_level(logging.INFO, "gemini_proxy")
    sock = connect(proxy)
    head = f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: {KEY_A}\r\nContent-Type: application/json\r\nContent-Length: {len(BODY) + 100}\r\n\r\n"
    sock.sendall(head.encode() + BODY)
    wait_for(lambda: True, "")
    sock.close()
    fields = wait_for(
        lambda: [f for f in log_fields(caplog) if f.get("client_gone") == "body"], "the proxy saw the client go"
    )
    assert fields[0]["status"] == 499
    assert fake.received == []


# The shipped protocol tells the app of the lost connection itself; under any other
# server (here uvicorn's own httptools protocol) a watch task sees it through `receive`.
SERVERS = pytest.mark.parametrize("http", ["handler.server:GuardedHttpTools", "httptools"])


CHAT_BODY = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    "path,body,credential",
    [
        (GENERATE, json.loads(BODY), f"x-goog-api-key: {KEY_A}"),
        ("/v1/chat/completions", CHAT_BODY, f"Authorization: Bearer {KEY_A}"),
        ("/v1/embeddings", {"model": "gemini-embedding-001", "input": ["a", "b"]}, f"Authorization: Bearer {KEY_A}"),
    ],
    ids=["native", "chat", "embeddings"],
)
@SERVERS
def test_call_cancelled_when_client_leaves(start_proxy, fake, caplog, path, body, credential, http):
    proxy = start_proxy(http=http)
    caplog.set_level(logging.INFO, "gemini_proxy")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 30
    raw = json.dumps(body).encode()
    sock = connect(proxy)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{credential}\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
    sock.sendall(head.encode() + raw)
    wait_for(lambda: fake.in_flight == 1, "the call reached Gemini")
    sock.close()
    fields = wait_for(
        lambda: [f for f in log_fields(caplog) if f.get("client_gone") == "waiting"], "the call was dropped"
    )
    assert fields[0]["status"] == 499  # nginx's "client closed request", not a 500
    assert fake.slow_done == []  # Gemini had not answered yet: the proxy stopped waiting at once


def test_native_stream_that_breaks_is_not_a_clean_end(proxy, fake, caplog):
    caplog.set_level(logging.INFO, "gemini_proxy")
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}}]} for t in ("a", "b", "c")]
    fake.reply(events=events, fail_after=2, delay=0.3)  # "a" is relayed well before the break
    sock = connect(proxy)
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: {KEY_A}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    sock.sendall(head.encode() + BODY)
    got = b""
    while chunk := sock.recv(65536):  # read until the proxy closes the connection
        got += chunk
    sock.close()
    assert got.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in got.lower()
    assert b'"a"' in got and b'"c"' not in got
    assert not got.endswith(b"0\r\n\r\n")  # no last chunk: the client can tell it broke off
    fake.reply(events=events, fail_after=1)
    with pytest.raises(httpx.RemoteProtocolError):  # and a client library does
        with httpx.stream("POST", proxy + path, content=BODY, headers={"x-goog-api-key": KEY_A}) as r:
            r.read()
    warnings = wait_for(lambda: [r for r in caplog.records if r.getMessage() == "stream ended early"], "a log line")
    assert warnings[0].fields["error"] == "UpstreamBroken"


def upload_start(proxy: str, **headers: str) -> httpx.Response:
    return httpx.post(
        proxy + "/upload/v1beta/files",
        headers={
            "x-goog-api-key": KEY_A,
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            **headers,
        },
    )


def test_upload_url_not_steered_by_client_headers(proxy, fake):
    r = upload_start(proxy, host="evil.example", **{"x-forwarded-host": "evil.example"})
    url = r.headers["x-goog-upload-url"]
    assert "evil" not in url
    assert url.startswith(proxy + "/upload/v1beta/files?upload_id=UP1")


def test_upload_url_from_public_base_url(start_proxy, fake):
    proxy = start_proxy(PUBLIC_BASE_URL="https://gemini.example.org/")
    r = upload_start(proxy, **{"x-forwarded-host": "evil.example"})
    assert r.headers["x-goog-upload-url"].startswith("https://gemini.example.org/upload/v1beta/files?upload_id=UP1")


def test_upload_url_from_trusted_forwarded_headers(start_proxy, fake):
    proxy = start_proxy(TRUST_FORWARDED_HEADERS="true")
    r = upload_start(proxy, **{"x-forwarded-host": "front.example", "x-forwarded-proto": "https"})
    assert r.headers["x-goog-upload-url"].startswith("https://front.example/upload/v1beta/files?upload_id=UP1")


@pytest.mark.parametrize("route", ["native", "openai"])
def test_key_longer_than_any_real_key_is_refused(proxy, fake, route):
    long_key = "AIza" + "x" * 508
    if route == "native":
        r = httpx.post(proxy + GENERATE, content=BODY, headers={"x-goog-api-key": long_key})
    else:
        r = httpx.post(
            proxy + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {long_key}"},
        )
    assert r.status_code == 401
    assert long_key not in r.text
    assert fake.received == []


def test_verify_checks_stop_when_the_caller_leaves(proxy, fake, caplog):
    caplog.set_level(logging.INFO, "gemini_proxy")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 30
    sock = connect(proxy)
    sock.sendall(
        f"POST /verify?format=json&timeout=50 HTTP/1.1\r\nHost: x\r\nx-goog-api-key: {KEY_A}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    wait_for(lambda: fake.in_flight == 1, "the check reached Gemini")
    sock.close()
    wait_for(lambda: [f for f in log_fields(caplog) if f.get("client_gone") == "waiting"], "the checks were dropped")
    assert fake.slow_done == []


def test_client_that_aborts_mid_body_on_a_translated_route(proxy, fake, caplog):
    caplog.set_level(logging.INFO)
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    sock = connect(proxy)
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\nContent-Type: application/json\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    sock.sendall(head.encode() + body)
    time.sleep(0.05)
    sock.close()
    fields = wait_for(
        lambda: [f for f in log_fields(caplog) if f.get("client_gone") == "body"], "the proxy saw the client go"
    )
    assert fields[0]["status"] == 499
    assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert fake.received == []
