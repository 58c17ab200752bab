"""Key choice: masking, random order with cooldown, and how long failed keys cool down."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from handler import keys, upstream

from .conftest import KEY_A, KEY_B, KEY_C

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
    assert keys.mask(key) == masked


def test_order_is_uniform_among_keys_not_cooling():
    pool = ("k1", "k2", "k3", "k4")
    keys.cool_down("k4", 60)
    keys.cool_down("k2", 30)
    firsts: Counter[str] = Counter()
    for _ in range(3000):
        picked = keys.order(pool)
        assert sorted(picked) == sorted(pool)
        assert picked[2:] == ["k2", "k4"]  # cooling keys last, the one back soonest first
        firsts[picked[0]] += 1
    assert set(firsts) == {"k1", "k3"}
    assert 1300 < firsts["k1"] < 1700  # about half each (the bounds are 7 standard deviations wide)


def test_cooldown_expires():
    keys.cool_down(KEY_A, 0.05)
    assert keys.order((KEY_A, KEY_B))[-1] == KEY_A
    time.sleep(0.06)
    keys.order((KEY_A, KEY_B))
    assert KEY_A not in keys._cooling


def test_cooling_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(keys, "MAX_COOLING", 3)
    for key in ("k1", "k2", "k3", "k4"):
        keys.cool_down(key, 60)
    assert set(keys._cooling) == {"k1", "k2", "k3"}


@pytest.mark.parametrize(
    "behaviour, low, high",
    [
        ("rate_limited", 6, 7),  # Gemini's RetryInfo: 7s
        ("quota_exhausted", upstream.PER_DAY_COOLDOWN - 1, upstream.PER_DAY_COOLDOWN),
        ("invalid", upstream.INVALID_KEY_COOLDOWN - 1, upstream.INVALID_KEY_COOLDOWN),
        ("forbidden", upstream.FORBIDDEN_COOLDOWN - 1, upstream.FORBIDDEN_COOLDOWN),
    ],
)
def test_failed_keys_cool_down_for_what_their_answer_says(proxy, fake, behaviour, low, high):
    fake.keys[KEY_A] = behaviour
    httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
    assert low <= keys._cooling[KEY_A] - time.monotonic() <= high


def test_overload_does_not_blame_the_key(proxy, fake):
    fake.keys[KEY_A] = "unavailable"
    assert httpx.post(proxy + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}).status_code == 503
    assert KEY_A not in keys._cooling


def test_cooling_key_is_avoided_over_http(proxy, fake):
    keys.cool_down(KEY_C, 60)
    with httpx.Client(base_url=proxy) as client:
        for _ in range(30):
            r = client.post(GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_A},{KEY_B},{KEY_C}"})
            assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"
    assert set(Counter(x.key for x in fake.received)) == {KEY_A, KEY_B}


def test_credential_with_control_characters_is_refused(proxy, fake):
    r = httpx.post(proxy + GENERATE + "?key=AIzaSyA-bad%0D%0AX-Injected:%201", json=BODY)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fake.received == []
