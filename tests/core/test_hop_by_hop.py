"""Headers that the request's `Connection` header names are hop-by-hop by declaration
(RFC 9110 7.6.1): never forwarded to Google, on the native pass-through (which forwards
other client headers) nor on a translated route (which sends only its own)."""

from __future__ import annotations

import httpx

from ..conftest import KEY_A

HOP = {"connection": "keep-alive, X-Hop-Secret, x-trace-hop", "x-hop-secret": "s3cret", "x-trace-hop": "t"}


def test_native_drops_headers_named_in_connection(proxy, fake):
    response = httpx.post(
        f"{proxy}/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": KEY_A, "x-gemini-kept": "yes", "api-revision": "2026-12", **HOP},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert response.status_code == 200
    (sent,) = fake.received
    assert sent.headers["x-gemini-kept"] == "yes" and sent.headers["api-revision"] == "2026-12"
    assert "x-hop-secret" not in sent.headers and "x-trace-hop" not in sent.headers


def test_native_reads_every_connection_line(proxy, fake):
    headers = [
        ("x-goog-api-key", KEY_A),
        ("connection", "x-first-hop"),
        ("connection", "keep-alive, x-second-hop"),
        ("x-first-hop", "1"),
        ("x-second-hop", "2"),
        ("x-gemini-kept", "yes"),
    ]
    response = httpx.get(f"{proxy}/v1beta/models", headers=headers)
    assert response.status_code == 200
    (sent,) = fake.received
    assert "x-first-hop" not in sent.headers and "x-second-hop" not in sent.headers
    assert sent.headers["x-gemini-kept"] == "yes"


def test_a_translated_route_forwards_none_of_them(proxy, fake):
    response = httpx.post(
        f"{proxy}/v1/messages",
        headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01", **HOP},
        json={"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200 and len(fake.generate_calls) == 1
    for sent in fake.received:  # the call, and the model list read for Claude's family
        assert "x-hop-secret" not in sent.headers and "x-trace-hop" not in sent.headers
        assert not any(name.startswith("anthropic") for name in sent.headers)
