"""Sticky sessions with no state (handler/keys/session.py): a request that names its
session tries its keys in the session's rendezvous order, so one conversation stays on
one key (one Google Cloud project) while it is healthy and keeps that project's implicit
cache; failover moves on in the same order; without a session the order stays random."""

from __future__ import annotations

import uuid

from handler.keys.cooldown import Cooldown
from handler.keys.rendezvous import rendezvous
from handler.keys.session import identity

from ..clients import anthropic_client, openai_v1
from ..conftest import KEY_A, KEY_B, KEY_C

KEY_D = "AQ.test-key-dddddddddddddddddddddddddd4444"  # an AQ. key: no key format is assumed
KEYS = (KEY_A, KEY_B, KEY_C, KEY_D)
SYSTEM = "You are Claude Code, a coding agent. Use the tools to read and edit files."


def claude_code_conversation(proxy: str, turns: int, session: str | None) -> list[str]:
    """A Claude Code-like conversation (one system prompt, a growing history, streamed
    turns); the masked key that served each turn."""
    headers = {"X-Claude-Code-Session-Id": session} if session else {}
    client = anthropic_client(proxy, api_key=",".join(KEYS), default_headers=headers)
    messages: list[dict] = []
    served = []
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Step {turn}: look at file_{turn}.py and fix it."})
        with client.messages.stream(
            model="gemini-2.5-flash", max_tokens=256, system=SYSTEM, messages=messages
        ) as stream:
            text = "".join(stream.text_stream)
            served.append(stream.response.headers["x-proxy-key"])
        messages.append({"role": "assistant", "content": text})
    return served


def test_a_claude_code_session_stays_on_one_project_and_its_cache(proxy, fake):
    session = str(uuid.uuid4())
    served = claude_code_conversation(proxy, 20, session)
    assert len(set(served)) == 1
    (key,) = [k for k in KEYS if fake.cache.hits[k] or fake.cache.misses[k]]
    assert key == rendezvous(session, KEYS)[0]  # the same on every container
    assert (fake.cache.misses[key], fake.cache.hits[key]) == (1, 19)  # every turn after the first hit


def test_without_a_session_turns_spread_over_the_keys(proxy, fake):
    served = claude_code_conversation(proxy, 20, None)
    assert len(set(served)) > 1  # random order: all 20 on one key has odds of 4**-19
    assert sum(fake.cache.misses.values()) > 1


def test_a_session_fails_over_in_its_own_order(proxy, fake, cooldown):
    session = "codex-session-" + uuid.uuid4().hex
    first, second, third, _ = rendezvous(session, KEYS)
    fake.keys[first] = "rate_limited"  # 429 on the session's first key
    client = openai_v1(proxy, api_key=",".join(KEYS))
    for _ in range(3):
        response = client.responses.with_raw_response.create(
            model="gemini-2.5-flash", input="hi", prompt_cache_key=session
        )
        assert response.headers["x-proxy-key"] == masked(second)
    # Once the cooldown knows the first key is cooling, the session goes straight to its second.
    assert response.headers["x-proxy-attempts"] == "1"
    fake.keys[second] = "rate_limited"
    response = client.responses.with_raw_response.create(model="gemini-2.5-flash", input="hi", prompt_cache_key=session)
    assert response.headers["x-proxy-key"] == masked(third)


def test_chat_user_and_prompt_cache_key_name_a_session(proxy, fake):
    client = openai_v1(proxy, api_key=",".join(KEYS))
    for field, value in (("user", "user-42"), ("prompt_cache_key", "chat-session-7")):
        served = {
            client.chat.completions.with_raw_response.create(
                model="gemini-2.5-flash", messages=[{"role": "user", "content": f"turn {i}"}], **{field: value}
            ).headers["x-proxy-key"]
            for i in range(8)
        }
        assert served == {masked(rendezvous(value, KEYS)[0])}


def test_the_order_is_the_same_in_every_container_and_cooling_keys_go_last():
    one, other = Cooldown(), Cooldown()
    assert one.order(KEYS, "m", "s-1") == other.order(KEYS, "m", "s-1") == rendezvous("s-1", KEYS)
    first = rendezvous("s-1", KEYS)[0]
    one.cool(first, 60, "m")
    assert one.order(KEYS, "m", "s-1") == [*rendezvous("s-1", KEYS)[1:], first]
    assert one.order(KEYS, "other-model", "s-1")[0] == first  # a 429 cools one model only


def test_identity_sources():
    assert identity({"x-claude-code-session-id": "cc"}, {"prompt_cache_key": "p"}) == "cc"
    assert identity({"session-id": "codex"}, {}) == "codex"
    assert identity({}, {"prompt_cache_key": "p", "user": "u"}) == "p"
    assert identity({}, {"user": "u"}) == "u"
    assert identity({}, {"metadata": {"user_id": "user_x_session_y"}}) == "user_x_session_y"
    assert identity({}, {"user": 5, "metadata": "x"}) is None
    assert len(identity({}, {"user": "u" * 10_000}) or "") == 512


def masked(key: str) -> str:
    from handler.keys.masking import mask

    return mask(key)
