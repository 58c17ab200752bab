"""No request holds the event loop before its credentials are checked (issue 23): a
6 MB body built to be expensive (150,000 messages, 30,000 multipart parts, 400,000
resource names) without a credential is refused with 401 before it is parsed, while
/healthz keeps answering."""

from __future__ import annotations

import json

import httpx
import pytest

from .test_hardening_round2_multipart import HealthWatch, tiny_parts

MESSAGES = [{"role": "user", "content": "x"}] * 150_000
BODIES = {
    "/v1/chat/completions": json.dumps({"model": "gemini-2.5-flash", "messages": MESSAGES}),
    "/v1/responses": json.dumps({"model": "gemini-2.5-flash", "input": MESSAGES}),
    "/v1/messages": json.dumps({"model": "claude-x", "max_tokens": 5, "messages": MESSAGES}),
    "/v1/embeddings": json.dumps({"model": "gemini-embedding-001", "input": ["x"] * 600_000}),
    "/v1/images/edits": tiny_parts(30_000),
    "/v1beta/models/gemini-2.5-flash:generateContent": json.dumps(
        {"contents": [{"parts": [{"fileData": {"fileUri": "files/abcdefgh12345678"}}] * 100_000}]}
    ),
}


@pytest.mark.parametrize("path", list(BODIES))
def test_an_expensive_body_without_credentials_costs_no_loop_time(proxy, fake, path):
    body = BODIES[path]
    content_type = "multipart/form-data; boundary=XyZ" if path.endswith("edits") else "application/json"
    with HealthWatch(proxy) as watch:
        r = httpx.post(proxy + path, content=body, headers={"content-type": content_type}, timeout=60)
    assert r.status_code == 401, r.text[:300]
    assert fake.received == []
    assert watch.slowest < 0.5, watch.slowest  # generous on a loaded machine; parsing these takes seconds


LARGEST = {  # the largest of each kind that is still taken (translate/bounds.py, affinity MAX_REFS)
    "/v1/chat/completions": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}] * 20_000},
    "/v1/responses": {"model": "gemini-2.5-flash", "input": [{"role": "user", "content": "x"}] * 20_000},
    "/v1/messages": {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}] * 20_000},
}


@pytest.mark.parametrize("path", list(LARGEST))
def test_the_largest_accepted_request_holds_the_loop_well_under_a_second(proxy, fake, path):
    headers = {
        "authorization": "Bearer AIzaSy-made-up-key-0000000000000000000",
        "x-api-key": "AIzaSy-made-up-key-0000000000000000000",
    }
    with HealthWatch(proxy) as watch:
        r = httpx.post(proxy + path, json=LARGEST[path], headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert watch.slowest < 1.0, watch.slowest  # (the fake upstream in this process reads it too)
