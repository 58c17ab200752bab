"""Failover between keys on the native routes, over real HTTP against the fake upstream.

The order of keys is random; a test that needs one key tried first makes the others
cool down (`keys.cool_down`), which moves them to the end, as a warm container would.
"""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from handler.keys.cooldown import Cooldown
from handler.logs import JsonFormatter

from ..conftest import KEY_A, KEY_B, KEY_C
from ..fake_gemini import KEY_ERRORS, error_body, quota_error, text_response

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
ALL = f"{KEY_A},{KEY_B},{KEY_C}"
MASK = {KEY_A: "AIzaSy...1111", KEY_B: "AIzaSy...2222", KEY_C: "AIzaSy...3333"}


def last(cooldown: Cooldown, *keys_: str) -> None:
    """Make these keys be tried after the others (as if they had just failed)."""
    for key in keys_:
        cooldown.cool(key, 60)


def test_rate_limited_keys_then_a_good_one(cooldown, proxy, fake):
    fake.keys[KEY_A] = fake.keys[KEY_B] = "rate_limited"
    last(cooldown, KEY_C)
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": ALL})
    assert r.status_code == 200
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == "echo: hi"
    seen = [x.key for x in fake.received]
    assert sorted(seen[:2]) == sorted([KEY_A, KEY_B]) and seen[2] == KEY_C
    assert len(set(seen)) == len(seen) == 3  # each key at most once
    assert all(x.json == BODY for x in fake.received)  # the same body replayed
    assert r.headers["x-proxy-key"] == MASK[KEY_C]
    assert r.headers["x-proxy-attempts"] == "3"
    assert "retry-after" not in r.headers

    # A warm container remembers: the next request tries the good key first.
    cooldown.forget(KEY_C)
    fake.received.clear()
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": ALL})
    assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"
    assert [x.key for x in fake.received] == [KEY_C]


def test_all_keys_rate_limited_gives_last_429_with_retry_after(cooldown, proxy, fake):
    fake.keys.update({KEY_A: "rate_limited", KEY_B: "quota_exhausted", KEY_C: "rate_limited"})
    last(cooldown, KEY_B)
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": ALL})
    assert r.status_code == 429
    seen = [x.key for x in fake.received]
    assert sorted(seen) == sorted([KEY_A, KEY_B, KEY_C]) and seen[-1] == KEY_B
    # The body is the last upstream error, as Gemini sent it.
    assert r.json() == KEY_ERRORS[fake.keys[seen[-1]]][1]
    # Retry-After: the soonest any key may succeed again (7s per minute, not 43s per day).
    assert r.headers["retry-after"] == "7"
    assert r.headers["x-proxy-attempts"] == "3"
    assert r.headers["x-proxy-key"] == MASK[seen[-1]]


def test_attempts_capped_by_max_attempts_and_key_count(start_proxy, fake):
    url = start_proxy(MAX_ATTEMPTS="2")
    fake.keys.update({KEY_A: "unavailable", KEY_B: "unavailable", KEY_C: "unavailable"})
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": ALL})
    assert r.status_code == 503 and r.headers["x-proxy-attempts"] == "2"
    assert len(fake.received) == 2 and len({x.key for x in fake.received}) == 2
    fake.received.clear()
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 503 and r.headers["x-proxy-attempts"] == "1"
    assert [x.key for x in fake.received] == [KEY_A]


@pytest.mark.parametrize(
    "status, body",
    [
        (429, quota_error(per_day=False)),
        (403, KEY_ERRORS["forbidden"][1]),
        (400, KEY_ERRORS["invalid"][1]),
        (500, error_body(500, "INTERNAL", "An internal error has occurred.")),
        (502, error_body(502, "UNAVAILABLE", "Bad gateway")),
        (503, KEY_ERRORS["unavailable"][1]),
        (504, error_body(504, "DEADLINE_EXCEEDED", "Deadline expired.")),
    ],
)
def test_statuses_that_fail_over(proxy, fake, status, body):
    fake.reply(body, status=status)  # only the first call gets it
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B}"})
    assert r.status_code == 200
    first, second = fake.received
    assert first.key != second.key
    assert r.headers["x-proxy-attempts"] == "2" and r.headers["x-proxy-key"] == MASK[second.key]


@pytest.mark.parametrize(
    "status, body",
    [
        (
            400,
            error_body(
                400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
            ),
        ),
        (404, error_body(404, "NOT_FOUND", "models/nope is not found for API version v1beta")),
    ],
)
def test_client_mistakes_are_never_retried(cooldown, proxy, fake, status, body):
    fake.reply(body, status=status)
    r = httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": ALL})
    assert r.status_code == status and r.json() == body
    assert len(fake.received) == 1  # it would fail the same way with every key
    assert r.headers["x-proxy-attempts"] == "1" and r.headers["x-proxy-key"] == MASK[fake.received[0].key]
    assert not cooldown.snapshot()  # and the key is not blamed for it


def test_timeout_fails_over(cooldown_for, start_proxy, fake):
    url = start_proxy(READ_TIMEOUT="0.3")
    cooldown = cooldown_for(url)
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 1.0
    last(cooldown, KEY_B)
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B}"}, timeout=10)
    assert r.status_code == 200
    assert [x.key for x in fake.received] == [KEY_A, KEY_B]
    assert r.headers["x-proxy-attempts"] == "2" and r.headers["x-proxy-key"] == MASK[KEY_B]


def test_connection_failures_fail_over_then_502(start_proxy, fake):
    url = start_proxy(GEMINI_BASE_URL="http://127.0.0.1:9", CONNECT_TIMEOUT="2")
    r = httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B}"})
    assert r.status_code == 502
    assert r.json()["error"]["status"] == "UNAVAILABLE" and "Traceback" not in r.text
    assert r.headers["x-proxy-attempts"] == "2"
    assert r.headers["x-proxy-key"] in (MASK[KEY_A], MASK[KEY_B])


def test_stream_fails_over_before_the_first_event(cooldown, proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    last(cooldown, KEY_B)
    with httpx.stream("POST", proxy + STREAM, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B}"}) as r:
        assert r.status_code == 200
        assert r.headers["x-proxy-attempts"] == "2" and r.headers["x-proxy-key"] == MASK[KEY_B]
        raw = b"".join(r.iter_raw())
    events = [json.loads(e[len(b"data: ") :]) for e in raw.split(b"\r\n\r\n") if e]
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == "Hello, world!"
    assert [x.key for x in fake.received] == [KEY_A, KEY_B]


def test_stream_that_breaks_midway_is_not_retried(proxy, fake):
    events = [text_response(piece, finish=None) for piece in ("one", "two", "three")]
    fake.reply(events=events, fail_after=1)
    got = b""
    with httpx.stream("POST", proxy + STREAM, json=BODY, headers={"x-goog-api-key": ALL}) as r:
        assert r.status_code == 200
        try:
            for chunk in r.iter_raw():
                got += chunk
        except httpx.HTTPError:
            pass  # the stream is cut, as the upstream's was
    assert got.count(b"data: ") == 1 and b'"one"' in got and b'"two"' not in got
    assert len(fake.received) == 1  # the first event had gone to the client: no retry


def test_all_stream_keys_fail_gives_the_error_status(proxy, fake):
    fake.keys.update({KEY_A: "rate_limited", KEY_B: "rate_limited"})
    r = httpx.post(proxy + STREAM, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B}"})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert len(fake.received) == 2


def _chunks_of(data: bytes, size: int):
    """An upload in pieces with pauses, so the proxy receives it as several messages."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
        time.sleep(0.02)


def test_body_over_replay_limit_is_sent_once(cooldown_for, start_proxy, fake):
    url = start_proxy(REPLAY_LIMIT_BYTES="1024")
    cooldown = cooldown_for(url)
    fake.keys[KEY_A] = "rate_limited"
    last(cooldown, KEY_B)
    payload = json.dumps(BODY).encode()
    body = payload + b" " * 4000  # trailing spaces: still valid JSON
    headers = {"x-goog-api-key": f"{KEY_A},{KEY_B}", "content-type": "application/json"}
    r = httpx.post(url + GENERATE, content=_chunks_of(body, 1500), headers=headers)
    assert r.status_code == 429 and r.headers["x-proxy-attempts"] == "1"
    (seen,) = fake.received
    assert seen.key == KEY_A and seen.body == body  # streamed upstream whole, once

    # Under the limit, the same request fails over.
    fake.received.clear()
    last(cooldown, KEY_B)
    r = httpx.post(url + GENERATE, content=_chunks_of(payload, 10), headers=headers)
    assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "2"
    assert [x.key for x in fake.received] == [KEY_A, KEY_B]
    assert fake.received[1].body == payload


def test_keys_never_unmasked_in_failover_logs_or_bodies(start_proxy, fake, caplog):
    url = start_proxy(READ_TIMEOUT="0.3")
    caplog.set_level(logging.DEBUG)
    fake.keys.update({KEY_A: "forbidden", KEY_B: "invalid", KEY_C: "slow"})
    fake.slow_seconds = 0.6
    answers = [
        httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": ALL}, timeout=10),
        httpx.post(url + STREAM, json=BODY, params={"key": ALL}, timeout=10),
    ]
    assert all(a.status_code in (400, 403, 504) for a in answers)
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(JsonFormatter().format(r) for r in server)
    text += "".join(a.text + str(a.headers) for a in answers)
    for key in (KEY_A, KEY_B, KEY_C):
        assert key not in text
    failovers = [json.loads(JsonFormatter().format(r)) for r in server if r.getMessage() == "failover"]
    assert len(failovers) == 4  # two retried attempts per request
    assert {f["key"] for f in failovers} <= set(MASK.values())
