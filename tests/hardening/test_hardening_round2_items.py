"""Translated requests cannot hold the event loop for seconds with a long list (issue 23):
a 6 MiB body of 150,000 one-character messages took about 2 s to translate; top-level
lists are bounded before any translation, in each route's error shape."""

from __future__ import annotations

import json

import httpx
import pytest

from handler.translate.bounds import MAX_ITEMS

from ..conftest import KEY_A

TOO_MANY = MAX_ITEMS + 1
ROUTES = {
    "chat": (
        "/v1/chat/completions",
        {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}] * TOO_MANY},
    ),
    "responses": (
        "/v1/responses",
        {"model": "gemini-2.5-flash", "input": [{"role": "user", "content": "x"}] * TOO_MANY},
    ),
    "messages": (
        "/v1/messages",
        {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}] * TOO_MANY},
    ),
    "chat tools": (
        "/v1/chat/completions",
        {
            "model": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}] * TOO_MANY,
        },
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_list_past_the_limit_is_refused_before_translation(proxy, fake, route):
    path, body = ROUTES[route]
    headers = {"authorization": f"Bearer {KEY_A}", "x-api-key": KEY_A, "content-type": "application/json"}
    r = httpx.post(proxy + path, content=json.dumps(body), headers=headers, timeout=60)
    assert r.status_code == 400, r.text[:300]
    message = json.dumps(r.json())
    assert f"at most {MAX_ITEMS} items" in message
    assert fake.received == []


def test_a_long_conversation_within_the_limit_still_passes(proxy, fake):
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(2001)]
    r = httpx.post(
        proxy + "/v1/chat/completions",
        json={"model": "gemini-2.5-flash", "messages": messages},
        headers={"authorization": f"Bearer {KEY_A}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:300]
    assert len(fake.generate_calls[0].json["contents"]) == 2001
