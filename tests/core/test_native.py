"""Native Gemini pass-through over real HTTP: keys, streaming, errors, CORS, logs."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter

import httpx
import pytest
from google import genai
from google.genai import types

from ..clients import credential_in
from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
BODY = {
    "contents": [{"role": "user", "parts": [{"text": "hi there"}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
}


def test_generate_passes_through_byte_for_byte(proxy, fake, fake_url):
    direct = httpx.post(fake_url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    fake.received.clear()
    r = httpx.post(
        proxy + GENERATE,
        json=BODY,
        headers={"x-goog-api-key": KEY_A, "x-goog-api-client": "genai-py/1.0", "cookie": "s=1"},
    )
    assert r.status_code == 200
    assert r.content == direct.content  # indented JSON, untouched
    (seen,) = fake.received
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.json == BODY  # toolConfig and all, not rewritten
    assert seen.headers["x-goog-api-key"] == KEY_A
    assert seen.headers["x-goog-api-client"] == "genai-py/1.0"
    assert "cookie" not in seen.headers and "authorization" not in seen.headers
    assert r.headers["x-proxy-key"] == "AIzaSy...1111"
    assert r.headers["x-proxy-attempts"] == "1"


@pytest.mark.parametrize(
    "place",
    ["x-goog-api-key", "query", "bearer", "x-api-key"],
)
def test_every_credential_place(proxy, fake, place):
    headers, params = {}, {"alt": "json"}
    value = f"{KEY_A}, {KEY_B},,{KEY_A}"
    credential_in(place, value, headers, params)
    r = httpx.post(proxy + GENERATE, json=BODY, headers=headers, params=params)
    assert r.status_code == 200, r.text
    (seen,) = fake.received
    assert seen.key in (KEY_A, KEY_B)
    assert seen.query == {"alt": "json"}  # the key parameter never goes upstream
    assert "authorization" not in seen.headers and "x-api-key" not in seen.headers


def test_one_random_key_per_request(proxy, fake):
    keys = f"{KEY_A},{KEY_B},{KEY_C}"
    with httpx.Client(base_url=proxy) as client:
        for _ in range(60):
            assert client.post(GENERATE, json=BODY, headers={"x-goog-api-key": keys}).status_code == 200
    used = Counter(r.headers["x-goog-api-key"] for r in fake.received)
    assert set(used) == {KEY_A, KEY_B, KEY_C}
    assert all(r.headers["x-goog-api-key"] in (KEY_A, KEY_B, KEY_C) for r in fake.received)
    assert len(fake.received) == 60


def test_access_token_unlocks_pool(start_proxy, fake):
    url = start_proxy(GEMINI_API_KEYS=f"{KEY_B},{KEY_C}", ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    r = httpx.post(url + GENERATE, json=BODY, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert fake.received[-1].key in (KEY_B, KEY_C)
    # Not a token, and client keys are off: refused before anything goes upstream.
    count = len(fake.received)
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 401
    assert r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert len(fake.received) == count


def test_client_keys_still_allowed_next_to_pool(start_proxy, fake):
    url = start_proxy(GEMINI_API_KEYS=KEY_B, ACCESS_TOKENS=TOKEN)
    assert httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}).status_code == 200
    assert fake.received[-1].key == KEY_A


def test_pool_without_tokens_is_never_used_anonymously(start_proxy, fake, caplog):
    url = start_proxy(GEMINI_API_KEYS=KEY_B)
    r = httpx.post(url + GENERATE, json=BODY)
    assert r.status_code == 401
    message = r.json()["error"]["message"]
    assert "x-goog-api-key" in message and "Authorization: Bearer" in message
    assert fake.received == []


def test_native_routes_reach_gemini_even_where_openai_lives(proxy, fake):
    r = httpx.get(proxy + "/v1beta/models", headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 200 and "models" in r.json()
    r = httpx.get(proxy + "/v1/models", params={"key": KEY_A})
    assert r.status_code == 200 and r.json()["models"][0]["name"].startswith("models/")
    assert [x.path for x in fake.received] == ["/v1beta/models", "/v1/models"]


def test_google_openai_endpoint_gets_bearer(proxy, fake):
    r = httpx.post(
        proxy + "/v1beta/openai/chat/completions",
        json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": f"Bearer {KEY_A},{KEY_B}"},
    )
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "compat"
    (seen,) = fake.received
    assert seen.headers["authorization"] in (f"Bearer {KEY_A}", f"Bearer {KEY_B}")
    assert "x-goog-api-key" not in seen.headers


def test_upstream_error_status_and_body_pass_through(proxy, fake):
    r = httpx.post(proxy + "/v1beta/models/nope:unknownMethod", json={}, headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 404
    assert r.json()["error"]["status"] == "NOT_FOUND"


def test_stream_is_byte_faithful(proxy, fake):
    with httpx.stream("POST", proxy + STREAM, json=BODY, headers={"x-goog-api-key": KEY_A}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(r.iter_raw())
    events = raw.split(b"\r\n\r\n")
    assert events[-1] == b"" and len(events) == 4
    texts = [json.loads(e[len(b"data: ") :])["candidates"][0]["content"]["parts"][0]["text"] for e in events[:3]]
    assert texts == ["Hello", ", world", "!"]


def test_stream_arrives_before_upstream_finishes(proxy, fake):
    fake.stream_delay = 0.4
    with httpx.stream("POST", proxy + STREAM, json=BODY, headers={"x-goog-api-key": KEY_A}) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        first_at = time.monotonic()
        rest = b"".join(chunks)
    assert first.startswith(b"data: ")
    assert len(fake.event_times) == 3
    # The client held the first event while the upstream still had two to send.
    assert first_at < fake.event_times[-1]
    assert rest.count(b"data: ") + first.count(b"data: ") == 3


def test_upstream_stream_closed_when_client_leaves(proxy, fake):
    from ..fake_gemini import text_response

    fake.reply(events=[text_response(str(i), finish=None) for i in range(20)], delay=0.1)
    with httpx.stream("POST", proxy + STREAM, json=BODY, headers={"x-goog-api-key": KEY_A}) as r:
        next(r.iter_raw())
    time.sleep(0.8)
    sent = len(fake.event_times)
    time.sleep(0.5)
    assert len(fake.event_times) == sent < 20  # the upstream stopped sending


def test_google_genai_sdk_through_proxy(proxy, fake):
    client = genai.Client(api_key=f"{KEY_A},{KEY_B}", http_options=types.HttpOptions(base_url=proxy))
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="hello sdk")
    assert answer.text == "echo: hello sdk"
    pieces = [c.text for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="x")]
    assert "".join(pieces) == "Hello, world!"
    assert [r.key for r in fake.received] and all(r.key in (KEY_A, KEY_B) for r in fake.received)
    assert fake.received[-1].query.get("alt") == "sse"


def test_resumable_upload_continues_through_proxy(proxy, fake):
    r = httpx.post(
        proxy + "/upload/v1beta/files",
        headers={"x-goog-api-key": KEY_A, "x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"},
        json={"file": {"display_name": "a"}},
    )
    assert r.status_code == 200
    assert r.headers["x-goog-upload-url"].startswith(proxy + "/upload/v1beta/files?upload_id=UP1")
    assert fake.received[0].headers["x-goog-upload-protocol"] == "resumable"
    r = httpx.post(
        r.headers["x-goog-upload-url"],
        content=b"abc",
        headers={"x-goog-api-key": KEY_A, "x-goog-upload-command": "upload, finalize"},
    )
    assert r.json()["file"]["sizeBytes"] == "3"


def test_cors_preflight_and_header(proxy, fake):
    r = httpx.options(
        proxy + GENERATE,
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-goog-api-key,content-type",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert fake.received == []
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A, "origin": "https://app.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-proxy-key" in r.headers["access-control-expose-headers"]


def test_upstream_down_gives_gemini_502(start_proxy, fake):
    url = start_proxy(GEMINI_BASE_URL="http://127.0.0.1:9", CONNECT_TIMEOUT="2")
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == 502 and error["status"] == "UNAVAILABLE" and "Traceback" not in r.text


def test_upstream_timeout_gives_gemini_504(start_proxy, fake):
    url = start_proxy(READ_TIMEOUT="0.3")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 1.5
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}, timeout=10)
    assert r.status_code == 504
    assert r.json()["error"]["status"] == "DEADLINE_EXCEEDED"


def test_other_routes(proxy, fake):
    assert httpx.get(proxy + "/healthz").json() == {"status": "ok"}
    assert "running" in httpx.get(proxy + "/").text
    r = httpx.get(proxy + "/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    assert fake.received == []


def test_no_secret_in_logs_or_bodies(start_proxy, fake, caplog):
    url = start_proxy(GEMINI_API_KEYS=KEY_C, ACCESS_TOKENS=TOKEN)
    caplog.set_level(logging.DEBUG)
    fake.keys[KEY_B] = "forbidden"
    bodies = [
        httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}),
        httpx.post(url + GENERATE, json=BODY, params={"key": KEY_B}),
        httpx.post(url + GENERATE, json=BODY, headers={"authorization": f"Bearer {TOKEN}"}),
        httpx.post(url + STREAM, json=BODY, headers={"x-api-key": KEY_A}),
        httpx.get(url + "/"),
    ]
    # Everything the proxy's side logged (the test's own httpx client logs its URLs: skip it).
    server_logs = "\n".join(
        _line(r) + r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "gemini_proxy" in {r.name for r in caplog.records}
    everything = server_logs + "".join(r.text + str(r.headers) for r in bodies)
    for secret in (KEY_A, KEY_B, KEY_C, TOKEN):
        assert secret not in everything
    lines = [json.loads(_line(r)) for r in caplog.records if r.name == "gemini_proxy" and getattr(r, "fields", None)]
    assert {"AIzaSy...1111", "AIzaSy...2222", "AIzaSy...3333"} <= {line.get("key") for line in lines}
    line = next(entry for entry in lines if entry.get("path") == GENERATE.split("?")[0])
    assert {"method", "path", "status", "upstream_status", "duration_ms", "key"} <= set(line)


def _line(record: logging.LogRecord) -> str:
    from handler.logs import JsonFormatter

    return JsonFormatter().format(record)


def test_key_quoted_in_an_upstream_error_is_masked(proxy, fake):
    fake.keys[KEY_A] = "forbidden"
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A, "accept-encoding": "gzip"})
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert "api_key:AIzaSy...1111" in message and KEY_A not in r.text
    assert "accept-encoding" not in fake.received[0].headers


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_other_api_versions_pass_through_even_under_openai_paths(proxy, fake, version):
    # /v1/models/... is shared with the OpenAI routes: a Gemini call there is still Gemini's.
    r = httpx.post(
        proxy + f"/{version}/models/gemini-2.5-flash:generateContent", json=BODY, headers={"x-goog-api-key": KEY_A}
    )
    assert r.status_code == 200
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == "echo: hi there"
    with httpx.stream(
        "POST",
        proxy + f"/{version}/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        json=BODY,
        headers={"x-goog-api-key": KEY_A},
    ) as s:
        assert s.read().count(b"\r\n\r\n") == 3
    assert [x.path for x in fake.received] == [
        f"/{version}/models/gemini-2.5-flash:generateContent",
        f"/{version}/models/gemini-2.5-flash:streamGenerateContent",
    ]
