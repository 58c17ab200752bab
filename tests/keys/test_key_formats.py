"""New-style `AQ.` auth keys next to `AIza...` keys, end to end, and per-model cooldown
over HTTP: a 429 on one model leaves the key serving other models; an invalid key or a
403 cools it for every model; /verify reports each key as before."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest

from handler.keys.masking import mask

from ..clients import credential_in
from ..conftest import KEY_A, KEY_B, TOKEN
from .test_failover import last

KEY_Q = "AQ.Ab8RN6KtestNewStyleAuthKey-qqqqqqqqqqqq4444"
KEY_R = "AQ.Ab8RN6KtestNewStyleAuthKey-rrrrrrrrrrrr5555"
FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
PRO = "/v1beta/models/gemini-2.5-pro:generateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_masking_is_the_same_for_both_formats():
    assert mask(KEY_Q) == "AQ.Ab8...4444" and mask(KEY_A) == "AIzaSy...1111"
    assert len(mask(KEY_Q)) == len(mask(KEY_A))


@pytest.mark.parametrize("place", ["x-goog-api-key", "query", "bearer", "x-api-key"])
def test_aq_keys_native_in_every_place(proxy, fake, place):
    headers, params = {}, {}
    value = f"{KEY_Q},{KEY_A}"
    credential_in(place, value, headers, params)
    for _ in range(20):  # both used: fails by chance 1 time in 500000
        r = httpx.post(proxy + FLASH, json=BODY, headers=headers, params=params)
        assert r.status_code == 200 and r.headers["x-proxy-key"] in ("AQ.Ab8...4444", "AIzaSy...1111")
    assert {x.key for x in fake.received} == {KEY_Q, KEY_A}  # both formats used, as given


def test_aq_keys_on_openai_routes_pool_and_verify(start_proxy, fake, caplog):
    caplog.set_level(logging.DEBUG)
    url = start_proxy(GEMINI_API_KEYS=f"{KEY_Q},{KEY_R}", ACCESS_TOKENS=TOKEN)
    client = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN)
    assert client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}]).choices
    assert fake.received[-1].key in (KEY_Q, KEY_R)
    fake.keys[KEY_R] = "forbidden"  # Gemini's 403 quotes the key: masked on the way out
    verify = httpx.post(url + "/verify", headers={"authorization": f"Bearer {TOKEN}"}, params={"format": "json"})
    results = {r["key"]: r["status"] for r in verify.json()["results"]}
    assert results == {"AQ.Ab8...4444": "valid", "AQ.Ab8...5555": "permission_denied"}
    text = verify.text + "".join(r.getMessage() + json.dumps(getattr(r, "fields", {})) for r in caplog.records)
    assert KEY_Q not in text and KEY_R not in text


def test_a_429_on_one_model_leaves_the_key_for_others(cooldown, proxy, fake):
    fake.keys[KEY_Q] = "rate_limited@gemini-2.5-flash"
    last(cooldown, KEY_B)  # KEY_Q is tried first once
    r = httpx.post(proxy + FLASH, json=BODY, headers={"x-goog-api-key": f"{KEY_Q},{KEY_B}"})
    assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "2"
    cooldown.forget(KEY_B)
    fake.received.clear()
    for _ in range(12):  # KEY_Q now waits behind KEY_B for flash...
        r = httpx.post(proxy + FLASH, json=BODY, headers={"x-goog-api-key": f"{KEY_Q},{KEY_B}"})
        assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1" and r.headers["x-proxy-key"] == mask(KEY_B)
    for _ in range(20):  # ...but still serves pro, chosen at random as any key
        assert httpx.post(proxy + PRO, json=BODY, headers={"x-goog-api-key": f"{KEY_Q},{KEY_B}"}).status_code == 200
    pro = [x.key for x in fake.received if "gemini-2.5-pro" in x.path]
    assert KEY_Q in pro and KEY_B in pro and len(pro) == 20
    assert {c["model"] for c in cooldown.snapshot() if c["key"] == mask(KEY_Q)} == {"gemini-2.5-flash"}


@pytest.mark.parametrize("behaviour", ["invalid", "forbidden"])
def test_a_bad_key_cools_for_every_model(cooldown, proxy, fake, behaviour):
    fake.keys[KEY_Q] = behaviour
    last(cooldown, KEY_B)
    assert httpx.post(proxy + FLASH, json=BODY, headers={"x-goog-api-key": f"{KEY_Q},{KEY_B}"}).status_code == 200
    cooldown.forget(KEY_B)
    fake.received.clear()
    for path in (PRO, FLASH) * 6:
        r = httpx.post(proxy + path, json=BODY, headers={"x-goog-api-key": f"{KEY_Q},{KEY_B}"})
        assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"
    assert {x.key for x in fake.received} == {KEY_B}
    assert [c["model"] for c in cooldown.snapshot() if c["key"] == mask(KEY_Q)] == [None]


def test_verify_reports_each_key_with_a_per_model_limit(proxy, fake):
    fake.keys[KEY_Q] = "rate_limited@gemini-2.5-flash"
    r = httpx.post(
        proxy + "/verify",
        headers={"x-goog-api-key": f"{KEY_Q},{KEY_A}"},
        params={"format": "json", "probe": "generate"},
    )
    assert {x["key"]: x["status"] for x in r.json()["results"]} == {
        "AQ.Ab8...4444": "rate_limited",
        "AIzaSy...1111": "valid",
    }
    r = httpx.post(
        proxy + "/verify",
        headers={"x-goog-api-key": KEY_Q},
        params={"format": "json", "probe": "generate", "model": "gemini-2.5-pro"},
    )
    assert r.json()["results"][0]["status"] == "valid"
