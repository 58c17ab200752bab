"""Key choice: masking, random order with cooldown, and how long failed keys cool down."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from handler.keys import cooldown as policy
from handler.keys.cooldown import Cooldown
from handler.keys.masking import mask

from ..conftest import KEY_A, KEY_B, KEY_C

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    "key, masked",
    [
        ("AIzaSyA-test-key-aaaaaaaaaaaaaaaaaaaa1111", "AIzaSy...1111"),
        ("0123456789abcdef", "012345...cdef"),  # 16 characters: first 6 and last 4
        ("0123456789abcde", "...de"),  # shorter: only the last 2
        ("ab", "..."),
    ],
)
def test_mask(key, masked):
    assert mask(key) == masked


def test_order_is_uniform_among_keys_not_cooling():
    pool = ("k1", "k2", "k3", "k4")
    keys = Cooldown()
    keys.cool("k4", 60)
    keys.cool("k2", 30)
    firsts: Counter[str] = Counter()
    for _ in range(3000):
        picked = keys.order(pool)
        assert sorted(picked) == sorted(pool)
        assert picked[2:] == ["k2", "k4"]  # cooling keys last, the one back soonest first
        firsts[picked[0]] += 1
    assert set(firsts) == {"k1", "k3"}
    assert 1300 < firsts["k1"] < 1700  # about half each (the bounds are 7 standard deviations wide)


def test_cooldown_expires():
    keys = Cooldown()
    keys.cool(KEY_A, 0.05)
    assert keys.order((KEY_A, KEY_B))[-1] == KEY_A
    time.sleep(0.06)
    keys.order((KEY_A, KEY_B))
    assert keys.snapshot() == [] and keys.until(KEY_A) == 0.0


def test_cooling_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(policy, "MAX_FOREIGN", 3)
    keys = Cooldown()
    for key in ("key1", "key2", "key3", "key4"):
        keys.cool(key, 60)
    assert {entry["key"] for entry in keys.snapshot()} == {"...y2", "...y3", "...y4"}  # the oldest went


@pytest.mark.parametrize(
    "behaviour, low, high",
    [
        ("rate_limited", 6, 7),  # Gemini's RetryInfo: 7s
        ("quota_exhausted", policy.PER_DAY - 1, policy.PER_DAY),
        ("invalid", policy.INVALID_KEY - 1, policy.INVALID_KEY),
        ("forbidden", policy.FORBIDDEN - 1, policy.FORBIDDEN),
    ],
)
def test_failed_keys_cool_down_for_what_their_answer_says(cooldown, proxy, fake, behaviour, low, high):
    fake.keys[KEY_A] = behaviour
    httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    assert low <= cooldown.until(KEY_A, "gemini-2.5-flash") - time.monotonic() <= high


def test_overload_does_not_blame_the_key(cooldown, proxy, fake):
    fake.keys[KEY_A] = "unavailable"
    assert httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}).status_code == 503
    assert cooldown.until(KEY_A, "gemini-2.5-flash") == 0.0


def test_cooling_key_is_avoided_over_http(cooldown, proxy, fake):
    cooldown.cool(KEY_C, 60)
    with httpx.Client(base_url=proxy) as client:
        for _ in range(30):
            r = client.post(GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B},{KEY_C}"})
            assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"
    assert set(Counter(x.key for x in fake.received)) == {KEY_A, KEY_B}


def test_credential_with_control_characters_is_refused(proxy, fake):
    r = httpx.post(proxy + GENERATE + "?key=AIzaSyA-bad%0D%0AX-Injected:%201", json=BODY)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fake.received == []
