"""The Interactions API through the proxy: create, follow-up, GET, streaming, background
and polling, cancel, delete, on v1beta and v1, each interaction on the key that made it
(the fake treats each key as its own project: another key gets 404)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from google import genai
from google.genai import types

from handler.affinity import binding as affinity

from .test_affinity import ALL, KEY_Q, KEYS, ROUNDS

V = ("v1beta", "v1")


def create(proxy: str, version: str = "v1beta", keys: str = ALL, **body) -> httpx.Response:
    body = {"model": "gemini-2.5-flash", "input": "hello", **body}
    return httpx.post(f"{proxy}/{version}/interactions", json=body, headers={"x-goog-api-key": keys})


def owner(fake, ident: str) -> str:
    return fake.projects.store["interactions"][ident[: -affinity.TAG_LENGTH]][0]


@pytest.mark.parametrize("version", V)
def test_follow_ups_and_get_stay_on_the_key(proxy, fake, version):
    for i in range(ROUNDS):
        first = create(proxy, version, input=f"q{i}")
        assert first.status_code == 200, first.text
        ident = first.json()["id"]
        key = owner(fake, ident)
        follow = create(proxy, version, input="and then?", previous_interaction_id=ident)
        assert follow.status_code == 200 and follow.headers["x-proxy-attempts"] == "1", follow.text
        assert follow.json()["previous_interaction_id"] == ident  # the echo carries the tag too
        assert follow.json()["steps"][0]["content"][0]["text"] == f"turn 2: q{i} | and then?"
        sent = fake.received[-1]
        assert sent.key == key and sent.json["previous_interaction_id"] == ident[: -affinity.TAG_LENGTH]
        got = httpx.get(f"{proxy}/{version}/interactions/{follow.json()['id']}", headers={"x-goog-api-key": ALL})
        assert got.status_code == 200 and got.json()["id"] == follow.json()["id"]
        assert fake.received[-1].key == key and fake.received[-1].path.endswith(
            follow.json()["id"][: -affinity.TAG_LENGTH]
        )
    assert all(r.key in KEYS for r in fake.received) and len(fake.received) == 3 * ROUNDS  # no wrong key tried


def test_streamed_interaction_is_tagged_event_by_event(proxy, fake):
    fake.stream_delay = 0.3
    with httpx.stream(
        "POST",
        proxy + "/v1beta/interactions",
        headers={"x-goog-api-key": ALL},
        json={"model": "gemini-2.5-flash", "input": "tell me more", "stream": True},
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        first_at, events = None, []
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                first_at = first_at or time.monotonic()
                events.append(json.loads(line[6:]))
    assert first_at is not None and first_at < fake.event_times[-1]  # streamed, not buffered
    created, status, *deltas, completed = events
    ident = created["interaction"]["id"]
    assert status["interaction_id"] == ident == completed["interaction"]["id"]
    assert ident.endswith(affinity.tag(owner(fake, ident)))
    assert " ".join(d["delta"]["text"] for d in deltas) == "turn 1: tell me more"
    follow = create(proxy, previous_interaction_id=ident)
    assert follow.status_code == 200 and fake.received[-1].key == owner(fake, ident)


def test_background_polling_cancel_and_delete(proxy, fake):
    for _ in range(4):
        started = create(proxy, input="think long", background=True)
        ident = started.json()["id"]
        assert started.json()["status"] == "in_progress"
        statuses = []
        while not statuses or statuses[-1] == "in_progress":
            poll = httpx.get(f"{proxy}/v1beta/interactions/{ident}", headers={"x-goog-api-key": ALL})
            assert poll.status_code == 200, poll.text
            statuses.append(poll.json()["status"])
        assert statuses == ["in_progress", "completed"]
        cancel = httpx.post(f"{proxy}/v1beta/interactions/{ident}/cancel", headers={"x-goog-api-key": ALL})
        assert cancel.status_code == 200 and cancel.json()["id"] == ident
        gone = httpx.delete(f"{proxy}/v1beta/interactions/{ident}", headers={"x-goog-api-key": ALL})
        assert gone.status_code == 200
        assert {r.key for r in fake.received} == {owner_key := fake.received[0].key} and owner_key in KEYS
        fake.received.clear()
    after = httpx.get(f"{proxy}/v1beta/interactions/{ident}", headers={"x-goog-api-key": ALL})
    assert after.status_code == 404 and after.json()["error"]["status"] == "NOT_FOUND"


def test_get_streams_a_stored_interaction(proxy, fake):
    ident = create(proxy, input="again").json()["id"]
    r = httpx.get(f"{proxy}/v1beta/interactions/{ident}", params={"stream": "true"}, headers={"x-goog-api-key": ALL})
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    assert events[0]["interaction"]["id"] == ident and events[-1]["interaction"]["id"] == ident
    assert fake.received[-1].query == {"stream": "true"} and fake.received[-1].key == owner(fake, ident)


def test_an_interaction_of_another_caller_is_not_found(proxy, fake):
    ident = create(proxy, keys=KEY_Q).json()["id"]
    fake.received.clear()
    r = create(proxy, keys="AIzaSy-someone-else-xxxxxxxxxxxxxxxx9999", previous_interaction_id=ident)
    assert r.status_code == 404
    assert all(x.key != KEY_Q for x in fake.received)


def test_headers_reach_google_by_deny_list(proxy, fake, fake_url):
    headers = {
        "x-goog-api-key": ALL,
        "api-revision": "2026-05-20",
        "x-gemini-session": "s-1",
        "x-custom-trace": "t-9",
        "cookie": "session=secret",
        "x-forwarded-for": "10.0.0.1",
        "forwarded": "for=10.0.0.1",
        "x-amzn-trace-id": "Root=1-abc",
        "accept-encoding": "gzip",
    }
    fake.received.clear()
    r = httpx.post(proxy + "/v1beta/interactions", json={"model": "gemini-2.5-flash", "input": "hi"}, headers=headers)
    assert r.status_code == 200
    (seen,) = fake.received
    assert seen.headers["api-revision"] == "2026-05-20"
    assert seen.headers["x-gemini-session"] == "s-1" and seen.headers["x-custom-trace"] == "t-9"
    for dropped in (
        "cookie",
        "x-forwarded-for",
        "forwarded",
        "x-amzn-trace-id",
        "accept-encoding",
        "authorization",
        "x-api-key",
    ):
        assert dropped not in seen.headers
    assert seen.headers["host"] == fake_url.removeprefix("http://")  # Google's host, not the one the client called


def test_python_sdk_interactions(proxy, fake):
    client = genai.Client(api_key=ALL, http_options=types.HttpOptions(base_url=proxy))
    for i in range(6):
        first = client.interactions.create(model="gemini-2.5-flash", input=f"hello {i}")
        second = client.interactions.create(model="gemini-2.5-flash", input="more", previous_interaction_id=first.id)
        assert second.previous_interaction_id == first.id
        assert client.interactions.get(second.id).status == "completed"
        assert {r.key for r in fake.received} == {owner(fake, first.id)}
        fake.received.clear()


def test_python_sdk_streamed_interaction_then_follow_up(proxy, fake):
    client = genai.Client(api_key=ALL, http_options=types.HttpOptions(base_url=proxy))
    events = list(client.interactions.create(model="gemini-2.5-flash", input="stream it", stream=True))
    assert [e.event_type for e in (events[0], events[-1])] == ["interaction.created", "interaction.completed"]
    ident = events[0].interaction.id
    follow = client.interactions.create(model="gemini-2.5-flash", input="next", previous_interaction_id=ident)
    assert follow.previous_interaction_id == ident and {r.key for r in fake.received} == {owner(fake, ident)}


def test_gemini_alias_reaches_interactions(proxy, fake):
    first = httpx.post(
        proxy + "/gemini/v1beta/interactions",
        json={"model": "gemini-2.5-flash", "input": "a"},
        headers={"x-goog-api-key": ALL},
    )
    ident = first.json()["id"]
    got = httpx.get(f"{proxy}/gemini/v1beta/interactions/{ident}", headers={"x-goog-api-key": ALL})
    assert got.status_code == 200 and fake.received[-1].path == "/v1beta/interactions/" + ident[: -affinity.TAG_LENGTH]
