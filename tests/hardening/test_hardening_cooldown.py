"""The cooldown memory cannot be filled by strangers (issue 9): bounded per /verify call
and overall, and callers' made-up keys never push out what the proxy knows of its pool."""

from __future__ import annotations

import httpx

from handler.health import verify
from handler.keys import cooldown as policy

from ..conftest import KEY_A, KEY_B, TOKEN

MODEL = "gemini-2.5-flash"


def made_up(n: int, tag: str = "x") -> list[str]:
    return [f"AIzaSyM-made-up-{tag}-{i:04d}-mmmmmmmmmmmm" for i in range(n)]


def test_one_verify_call_records_only_a_few_callers_keys(cooldown, proxy, fake):
    keys = made_up(256)
    for key in keys:
        fake.keys[key] = "rate_limited"
    r = httpx.post(
        proxy + "/verify",
        params={"format": "json", "timeout": "5"},
        headers={"x-goog-api-key": ",".join(keys)},
        timeout=60,
    )
    assert r.status_code == 200
    assert r.json()["summary"]["rate_limited"] == 256  # every key checked and reported...
    cooling = [k for k in keys if cooldown.until(k, MODEL) > 0]
    assert 0 < len(cooling) <= verify.MAX_FOREIGN_NOTES  # ...but only a few remembered


def test_pool_keys_outlive_a_flood_of_made_up_keys(start_proxy, cooldown_for, fake):
    url = start_proxy(GEMINI_API_KEYS=f"{KEY_A},{KEY_B}", ACCESS_TOKENS=TOKEN)
    memory = cooldown_for(url)
    fake.keys[KEY_A] = "rate_limited"
    r = httpx.post(url + "/verify", params={"format": "json"}, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.json()["summary"]["rate_limited"] == 1
    assert memory.until(KEY_A, MODEL) > 0
    for i in range(40):  # the flood: forty calls of 256 made-up keys (in-process here)
        for key in made_up(256, str(i)):
            memory.cool(key, 60, MODEL, "rate_limited")
    assert len(memory._foreign) <= policy.MAX_FOREIGN
    assert memory.until(KEY_A, MODEL) > 0  # the pool's key is still known to be cooling
    r = httpx.post(
        url + "/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"authorization": f"Bearer {TOKEN}"},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"  # KEY_B first: KEY_A still last
    assert fake.generate_calls[-1].key == KEY_B


def test_a_request_looks_up_only_its_own_keys(monkeypatch):
    """O(1) per key: a lookup touches the request's keys' entries, never the whole table."""
    memory = policy.Cooldown()
    for key in made_up(policy.MAX_FOREIGN):
        memory.cool(key, 60, MODEL)
    touched = []
    original = dict.get

    class Counting(dict):
        def get(self, key, default=None):
            touched.append(key)
            return original(self, key, default)

    memory._owned = Counting(memory._owned)
    memory.order((KEY_A, KEY_B), MODEL)
    assert len(touched) <= 4  # (key, None) and (key, model) for each of two keys
