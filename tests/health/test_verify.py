"""/verify over real HTTP against the fake upstream, which answers differently per key."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN
from ..fake_gemini import error_body

KEY_D = "AIzaSyD-test-key-dddddddddddddddddddd4444"
KEY_E = "AIzaSyE-test-key-eeeeeeeeeeeeeeeeeeee5555"
KEY_F = "AIzaSyF-test-key-ffffffffffffffffffff6666"
KEY_G = "AIzaSyG-test-key-gggggggggggggggggggg7777"
ALL = (KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G)
LIST_PATH = "/v1beta/models"  # the default probe: a one-item model list, no model name


def mask(key: str) -> str:
    return f"AIzaSy...{key[-4:]}"


def events(text: str) -> list:
    chunks = [c for c in text.split("\n\n") if c]
    assert all(c.startswith("data: ") for c in chunks), text
    return [c[len("data: ") :] for c in chunks]


def per_key_fake(fake) -> None:
    fake.keys.update(
        {
            KEY_B: "invalid",
            KEY_C: "rate_limited",
            KEY_D: "quota_exhausted",
            KEY_E: "forbidden",
            KEY_F: "unavailable",
            KEY_G: "slow",
        }
    )
    fake.slow_seconds = 1.0


EXPECTED = {
    KEY_A: ("valid", 200),
    KEY_B: ("invalid", 400),
    KEY_C: ("rate_limited", 429),
    KEY_D: ("quota_exhausted", 429),
    KEY_E: ("permission_denied", 403),
    KEY_F: ("unavailable", 503),
    KEY_G: ("unavailable", None),  # slower than the timeout
}


def test_sse_one_event_per_key_then_summary(cooldown, proxy, fake):
    per_key_fake(fake)
    r = httpx.post(proxy + "/verify", params={"timeout": "0.4"}, headers={"x-goog-api-key": ",".join(ALL)}, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    raw = events(r.text)
    assert raw[-1] == "[DONE]"
    results = [json.loads(e) for e in raw[:-2]]
    assert {e["key"]: (e["status"], e["http_status"]) for e in results} == {mask(k): v for k, v in EXPECTED.items()}
    assert results[-1]["key"] == mask(KEY_G)  # completion order: the timed-out one last
    for entry in results:
        assert set(entry) == {"key", "status", "http_status", "message", "latency_ms"}
        assert isinstance(entry["latency_ms"], int) and entry["message"]
    by_key = {e["key"]: e for e in results}
    assert "quota" in by_key[mask(KEY_C)]["message"] and "7s" in by_key[mask(KEY_C)]["message"]
    assert by_key[mask(KEY_G)]["message"] == "No answer within 0.4 s."
    assert "generation quota not checked" in by_key[mask(KEY_A)]["message"]
    summary = json.loads(raw[-2])["summary"]
    assert {
        k: summary[k]
        for k in (
            "total",
            "valid",
            "invalid",
            "rate_limited",
            "quota_exhausted",
            "permission_denied",
            "unavailable",
            "error",
        )
    } == {
        "total": 7,
        "valid": 1,
        "invalid": 1,
        "rate_limited": 1,
        "quota_exhausted": 1,
        "permission_denied": 1,
        "unavailable": 2,
        "error": 0,
    }
    assert summary["probe"] == "metadata" and "cannot see an exhausted generation quota" in summary["note"]
    # One list call per key, each with its own key: no failover, no generation, no model named.
    assert sorted(x.key for x in fake.received) == sorted(ALL)
    assert all(x.method == "GET" and x.path == LIST_PATH and x.query == {"pageSize": "1"} for x in fake.received)
    for key in ALL:
        assert key not in r.text
    # What the checks learned feeds failover's cooldown.
    assert all(cooldown.until(k, "gemini-2.5-flash") > 0 for k in (KEY_B, KEY_C, KEY_D, KEY_E))
    assert cooldown.until(KEY_A, "gemini-2.5-flash") == 0.0


def test_sse_is_streamed_as_checks_end(proxy, fake):
    fake.keys[KEY_B] = "slow"
    fake.slow_seconds = 0.8
    arrivals = []
    with httpx.stream("POST", proxy + "/verify", headers={"x-goog-api-key": f"{KEY_B},{KEY_A}"}, timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.monotonic(), line[len("data: ") :]))
    first_at, first = arrivals[0]
    assert json.loads(first)["key"] == mask(KEY_A)
    (slow_ended,) = fake.slow_done
    assert first_at < slow_ended  # the fast result was at the client before the slow check ended
    assert json.loads(arrivals[1][1]) | {"latency_ms": 0} == {
        "key": mask(KEY_B),
        "status": "valid",
        "http_status": 200,
        "latency_ms": 0,
        "message": "The key is valid (model list read; generation quota not checked).",
    }
    assert [a[1] for a in arrivals[2:]][-1] == "[DONE]"


@pytest.mark.parametrize("how", ["query", "accept"])
def test_json_form(proxy, fake, how):
    fake.keys.update({KEY_B: "invalid", KEY_C: "quota_exhausted"})
    params = {"format": "json"} if how == "query" else {}
    headers = {"authorization": f"Bearer {KEY_C},{KEY_A},{KEY_B}"}
    if how == "accept":
        headers["accept"] = "application/json"
    r = httpx.get(proxy + "/verify", params=params, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert [(e["key"], e["status"]) for e in data["results"]] == [
        (mask(KEY_C), "quota_exhausted"),
        (mask(KEY_A), "valid"),
        (mask(KEY_B), "invalid"),
    ]  # in the order given
    assert data["summary"]["total"] == 3 and data["summary"]["valid"] == 1 and data["summary"]["invalid"] == 1
    for key in (KEY_A, KEY_B, KEY_C):
        assert key not in r.text


def test_generate_probe(proxy, fake):
    fake.keys[KEY_B] = "rate_limited"
    r = httpx.post(
        proxy + "/verify",
        params={"probe": "generate", "model": "models/gemini-2.5-pro", "format": "json"},
        headers={"x-api-key": f"{KEY_A},{KEY_B}"},
    )
    data = r.json()
    assert {e["key"]: e["status"] for e in data["results"]} == {mask(KEY_A): "valid", mask(KEY_B): "rate_limited"}
    assert data["summary"]["probe"] == "generate" and "note" not in data["summary"]
    assert sorted(x.key for x in fake.received) == sorted([KEY_A, KEY_B])
    for seen in fake.received:
        assert seen.method == "POST" and seen.path == "/v1beta/models/gemini-2.5-pro:generateContent"
        assert seen.json["generationConfig"] == {"maxOutputTokens": 1}


def test_key_quoted_by_gemini_is_masked(proxy, fake):
    fake.reply(error_body(403, "PERMISSION_DENIED", f"Consumer 'api_key:{KEY_A}' has been suspended."), status=403)
    r = httpx.post(proxy + "/verify", params={"probe": "generate", "format": "json"}, headers={"x-goog-api-key": KEY_A})
    (entry,) = r.json()["results"]
    assert entry["status"] == "permission_denied"
    assert entry["message"] == f"Consumer 'api_key:{mask(KEY_A)}' has been suspended."
    assert KEY_A not in r.text


def test_unknown_model_is_an_error_per_key(proxy, fake):
    r = httpx.get(proxy + "/verify", params={"model": "no-such-model", "format": "json", "key": KEY_A})
    (entry,) = r.json()["results"]
    assert (entry["status"], entry["http_status"]) == ("error", 404)
    assert "not found" in entry["message"]


def test_access_token_checks_the_server_pool(start_proxy, fake):
    url = start_proxy(GEMINI_API_KEYS=f"{KEY_B},{KEY_C}", ACCESS_TOKENS=TOKEN)
    fake.keys[KEY_C] = "forbidden"
    r = httpx.post(url + "/verify", headers={"authorization": f"Bearer {TOKEN}", "accept": "application/json"})
    assert {e["key"]: e["status"] for e in r.json()["results"]} == {
        mask(KEY_B): "valid",
        mask(KEY_C): "permission_denied",
    }
    assert sorted(x.key for x in fake.received) == sorted([KEY_B, KEY_C])  # never the token
    assert TOKEN not in r.text


def test_checks_run_eight_at_a_time(proxy, fake):
    many = [f"AIzaSyV-verify-key-{i:02d}-vvvvvvvvvvvvvvvvvv" for i in range(12)]
    fake.keys.update(dict.fromkeys(many, "slow"))
    fake.slow_seconds = 0.3
    r = httpx.post(proxy + "/verify", params={"format": "json"}, headers={"x-goog-api-key": ",".join(many)}, timeout=10)
    assert r.json()["summary"]["valid"] == 12
    assert fake.max_in_flight == 8
    assert len(fake.received) == 12


def test_no_keys_gives_400_saying_how(proxy, fake):
    r = httpx.post(proxy + "/verify")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "x-goog-api-key" in message and "access token" in message
    assert fake.received == []


@pytest.mark.parametrize(
    "params", [{"probe": "burn"}, {"model": "../files"}, {"timeout": "soon"}, {"timeout": "600"}, {"format": "xml"}]
)
def test_bad_options_give_400(proxy, fake, params):
    r = httpx.post(proxy + "/verify", params=params, headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fake.received == []


def test_closed_proxy_checks_only_with_a_token(start_proxy, fake):
    url = start_proxy(GEMINI_API_KEYS=KEY_B, ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    r = httpx.post(url + "/verify", headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 401 and fake.received == []
