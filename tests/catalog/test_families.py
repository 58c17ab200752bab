"""Defaults by family, resolved from the live model list: with no model settings at all,
Claude Code, Codex, the OpenAI and Anthropic SDKs and /verify work against a fake whose
list has no Gemini 2.5 model; a retired model is replaced with no restart; a model not
open to a free key falls back to the next of its family, remembered for that key."""

from __future__ import annotations

import httpx
import pytest

from handler.catalog import families

from ..anthropic.test_claude_code import run as run_claude
from ..clients import anthropic_client, openai_v1
from ..conftest import KEY_A, KEY_B
from ..fake_models import MODERN, MODERN_NAMES
from ..responses.test_responses_codex import CODEX, run_codex

LISTED = [(f"models/{name}", methods) for name, methods in MODERN_NAMES]


@pytest.fixture
def modern(start_proxy, fake, _proxies) -> str:
    """A proxy with no model settings (its own, so its model list is its own), and the
    fake serving several generations and no Gemini 2.5 model."""
    url = start_proxy(MODEL_LIST_SECONDS="600")
    for server in _proxies.values():
        if server.url == url:
            server.app.state.families = None  # a cold container: nothing resolved yet
            server.app.state.refusals = None
    fake.models.use(MODERN)
    return url


def generated(fake) -> list[str]:
    """The models of the generate calls the fake received, in order."""
    return [c.path.split("/")[-1].split(":")[0] for c in fake.generate_calls]


def test_families_pick_the_newest_stable_model_of_each():
    assert families.candidates(LISTED, "flash") == [
        "gemini-4-hydrogen",
        "gemini-3.8-flash",
        "gemini-3.7-flash",
        "gemini-3.6-flash",
        "gemini-3.5-flash",
        "gemini-3.9-flash-preview",  # previews after every stable model
    ]
    assert families.candidates(LISTED, "pro") == ["gemini-4-carbon", "gemini-4-argon", "gemini-3.1-pro"]
    assert families.candidates(LISTED, "flash-lite") == ["gemini-3.8-flash-lite", "gemini-3.5-flash-lite"]
    assert families.candidates(LISTED, "tts") == ["gemini-3.8-flash-tts"]  # -lite-tts is not the default
    assert families.candidates(LISTED, "image") == ["gemini-nano-banana-2.1"]
    assert families.candidates(LISTED, "embedding") == ["gemini-embedding-001"]
    # -live, auto-routing aliases (`-latest`) and models that cannot generate belong to no text family.
    every = {name for family in families.FAMILIES for name in families.candidates(LISTED, family)}
    assert not every & {"gemini-4-hydrogen-live", "gemini-flash-latest"}


def test_choice_skips_retired_and_closed_models_then_falls_back():
    clock = [0.0]
    store = families.Families(ttl=60, clock=lambda: clock[0])
    store.store(LISTED)
    assert store.choose("pro", ("free",)) == "gemini-4-carbon"
    store.close("free", "gemini-4-carbon")
    store.close("free", "gemini-4-argon")
    assert store.choose("pro", ("free",)) == "gemini-3.1-pro"  # only for that key
    assert store.choose("pro", ("paid",)) == "gemini-4-carbon"
    store.close("free", "gemini-3.1-pro")
    assert store.choose("pro", ("free",)) == "gemini-4-hydrogen"  # the best the key offers
    clock[0] = families.CLOSED_SECONDS + 1
    assert store.choose("pro", ("free",)) == "gemini-4-carbon"  # remembered for a while only
    store.retire("gemini-4-hydrogen")
    assert not store.fresh()  # the list is read again
    assert store.choose("flash", ()) == "gemini-3.8-flash"


def test_openai_sdk_with_no_model_settings(modern, fake):
    answer = openai_v1(modern).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.headers["x-proxy-model"] == "gemini-4-hydrogen"
    assert answer.parse().choices[0].message.content == "echo: hi"
    lists = [c for c in fake.received if c.method == "GET"]
    assert [c.path for c in lists] == ["/v1beta/models"] and lists[0].query["pageSize"] == "1000"
    # Cached: the next calls read no list.
    openai_v1(modern).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len([c for c in fake.received if c.method == "GET"]) == 1
    # A model the client names passes as named.
    named = openai_v1(modern).chat.completions.with_raw_response.create(
        model="gemini-3.7-flash", messages=[{"role": "user", "content": "hi"}]
    )
    assert named.headers["x-proxy-model"] == "gemini-3.7-flash"


def test_anthropic_sdk_claude_names_map_to_families(modern, fake):
    client = anthropic_client(modern)
    small = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    large = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert small.headers["x-proxy-model"] == "gemini-4-hydrogen"
    assert large.headers["x-proxy-model"] == "gemini-4-carbon"
    assert large.parse().content[0].text == "echo: hi"
    counted = client.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "a b"}])
    assert counted.input_tokens == 2 and fake.received[-1].path == "/v1beta/models/gemini-4-carbon:countTokens"


def test_free_key_falls_back_to_the_next_pro_model_and_remembers(modern, fake):
    fake.keys[KEY_A] = "free"  # Carbon answers 403, Argon a 429 with quota limit 0
    client = anthropic_client(modern)
    first = client.messages.with_raw_response.create(
        model="claude-opus-4-1", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert first.headers["x-proxy-model"] == "gemini-3.1-pro" and first.parse().content[0].text == "echo: hi"
    assert generated(fake) == ["gemini-4-carbon", "gemini-4-argon", "gemini-3.1-pro"]
    fake.received.clear()
    again = client.messages.with_raw_response.create(
        model="claude-opus-4-1", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert again.headers["x-proxy-model"] == "gemini-3.1-pro" and generated(fake) == ["gemini-3.1-pro"]
    # Another key is not held back by what the free key could not use.
    paid = anthropic_client(modern, api_key=KEY_B).messages.with_raw_response.create(
        model="claude-opus-4-1", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert paid.headers["x-proxy-model"] == "gemini-4-carbon"


def test_free_key_streamed_falls_back_before_the_stream_starts(modern, fake):
    fake.keys[KEY_A] = "free"
    with anthropic_client(modern).messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "Hello, world!"
    assert generated(fake) == ["gemini-4-carbon", "gemini-4-argon", "gemini-3.1-pro"]


def test_retiring_the_resolved_model_mid_run_resolves_the_next_newest(modern, fake):
    client = openai_v1(modern)
    ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert client.chat.completions.with_raw_response.create(**ask).headers["x-proxy-model"] == "gemini-4-hydrogen"
    fake.models.retire("gemini-4-hydrogen")
    fake.received.clear()
    answer = client.chat.completions.with_raw_response.create(**ask)
    assert answer.headers["x-proxy-model"] == "gemini-3.8-flash" and answer.parse().choices[0].message.content
    # The 404 made the proxy read the list again and call the next newest, in the same request.
    assert generated(fake) == ["gemini-4-hydrogen", "gemini-3.8-flash"]
    assert [c.path for c in fake.received if c.method == "GET"] == ["/v1beta/models"]
    fake.received.clear()
    streamed = client.chat.completions.create(stream=True, **ask)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello, world!"
    assert generated(fake) == ["gemini-3.8-flash"]  # no restart, no second 404


def test_a_model_the_client_names_is_not_swapped(modern, fake):
    fake.models.retire("gemini-3.8-flash")
    r = httpx.post(
        modern + "/v1/chat/completions",
        json={"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert generated(fake) == ["gemini-3.8-flash"]


def test_verify_needs_no_model_name(modern, fake):
    r = httpx.get(modern + "/verify", params={"format": "json", "key": KEY_A})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "valid"
    (seen,) = fake.received
    assert (seen.method, seen.path, seen.query) == ("GET", "/v1beta/models", {"pageSize": "1"})
    fake.received.clear()
    r = httpx.get(modern + "/verify", params={"format": "json", "key": KEY_A, "probe": "generate"})
    assert r.json()["results"][0]["status"] == "valid" and r.json()["summary"]["model"] == "gemini-4-hydrogen"
    assert generated(fake) == ["gemini-4-hydrogen"]


def test_claude_code_with_no_model_settings(modern, fake, tmp_path):
    (tmp_path / "work").mkdir()
    messages = run_claude(modern, tmp_path, "Say hello.", "--model", "sonnet")
    assert messages[-1]["result"] == "Hello, world!"
    models = set(generated(fake))
    assert models and models <= {"gemini-4-carbon", "gemini-4-hydrogen"}, models


@pytest.mark.skipif(CODEX is None, reason="Codex CLI not found: set CODEX_BIN or run `npm install`")
def test_codex_with_no_model_settings(modern, fake, tmp_path):
    done = run_codex(tmp_path, modern, "gpt-5-codex", "Say hello.")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Hello, world!" in done.stdout
    assert set(generated(fake)) == {"gemini-4-hydrogen"}


def test_verify_generate_probe_when_no_key_can_read_the_list(modern, fake):
    fake.keys[KEY_A] = "invalid"
    r = httpx.get(modern + "/verify", params={"format": "json", "key": KEY_A, "probe": "generate"})
    assert r.status_code == 200
    (result,) = r.json()["results"]
    assert result["status"] == "invalid" and r.json()["summary"]["model"] is None
    assert not fake.generate_calls  # nothing to generate with: each key's list answer says why


def test_an_invalid_key_with_a_family_default_is_a_401_not_a_500(modern, fake):
    fake.keys[KEY_A] = "invalid"
    r = httpx.post(
        modern + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert KEY_A not in r.text and not fake.generate_calls
