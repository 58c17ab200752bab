"""Ids the affinity lookup GETs (issue 23): an id from a body goes into the lookup's path
as one encoded segment, so `../../v1beta/files` or `abc?alt=sse` cannot steer it."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.affinity import binding
from handler.errors import BadRequest

from ..affinity.test_affinity import ALL
from ..conftest import KEY_A, KEY_B

STEERING = ["../../v1beta/files", "abc?alt=sse", "abc#x", "a/b", "%2e%2e", "..%2F..%2Fv1beta%2Ffiles", "x/../../y"]


@pytest.mark.parametrize("ident", STEERING)
def test_a_previous_interaction_id_cannot_steer_the_lookup(proxy, fake, ident):
    r = httpx.post(
        f"{proxy}/v1beta/interactions",
        json={"model": "gemini-2.5-flash", "input": "hi", "previous_interaction_id": ident},
        headers={"x-goog-api-key": ALL},
    )
    assert r.status_code in (400, 404), r.text
    lookups = [item for item in fake.received if item.method == "GET"]
    for item in lookups:  # each lookup asks for one interaction: one segment, no query
        assert item.path.startswith("/v1beta/interactions/") and item.query == {}
        assert "/" not in item.path.removeprefix("/v1beta/interactions/")
    assert not any(item.method == "POST" for item in fake.received)  # nothing created


@pytest.mark.parametrize("ident", [".", ".."])
def test_a_dot_id_is_refused(proxy, fake, ident):
    r = httpx.post(
        f"{proxy}/v1beta/interactions",
        json={"model": "gemini-2.5-flash", "input": "hi", "previous_interaction_id": ident},
        headers={"x-goog-api-key": ALL},
    )
    assert r.status_code == 400 and fake.received == []


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(min_size=0, max_size=30))
def test_any_id_becomes_one_segment_or_a_400(ident):
    try:
        encoded = binding.segment(ident)
    except BadRequest:
        assert ident in ("", ".", "..")
        return
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert encoded not in (".", "..") and unquote(encoded) == ident


def test_a_body_naming_too_many_resources_is_refused_fast(proxy, fake):
    """400,000 tagged names in an 8 MB native body took 2 s of loop time to resolve."""
    tag = binding.tag(KEY_A)
    part = {"fileData": {"fileUri": f"https://generativelanguage.googleapis.com/v1beta/files/abc{tag}"}}
    headers = {"x-goog-api-key": f"{KEY_A},{KEY_B}"}
    body = {"contents": [{"parts": [part] * (binding.MAX_REFS + 1)}]}
    r = httpx.post(f"{proxy}/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT", r.text
    assert fake.received == []
    body = {"contents": [{"parts": [part] * 300}]}
    r = httpx.post(f"{proxy}/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert fake.generate_calls[-1].key == KEY_A
