"""Gemini 4's long decode: a chat, Messages and Responses request with max_tokens
100,000 gets one whole answer assembled over CONTINUATION hops (streamed: the events
keep coming), usage summed; the native route passes CONTINUATION through unchanged."""

from __future__ import annotations

import time

import httpx
import pytest

from ..clients import anthropic_client, openai_v1
from ..conftest import KEY_A, KEY_B
from ..fake_models import MODERN

MODEL = "gemini-4-hydrogen"
PROMPT = "Write a long answer about rivers."
WHOLE = "".join(f"[hop {hop} a][hop {hop} b]" for hop in (1, 2, 3))
USER = [{"role": "user", "content": PROMPT}]


@pytest.fixture
def modern(start_proxy, fake) -> str:
    fake.models.use(MODERN)
    return start_proxy(MODEL_LIST_SECONDS="602")


def hops(fake) -> list[tuple[str, str | None]]:
    """(method, continuation token sent) for each generate call."""
    return [(c.path.split(":")[-1], c.json["generationConfig"].get("continuationToken")) for c in fake.generate_calls]


def test_chat_whole_over_three_hops_streamed_upstream(modern, fake):
    answer = openai_v1(modern).chat.completions.create(model=MODEL, messages=USER, max_tokens=100_000)
    assert answer.choices[0].message.content == WHOLE and answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens == 3 * 200 and answer.usage.prompt_tokens == 3 * 10
    calls = hops(fake)
    # A non-streamed Gemini 4 call may not ask for more than 32,768 tokens: streamed upstream.
    assert [m for m, _ in calls] == ["streamGenerateContent"] * 3
    assert calls[0][1] is None and calls[1][1] and calls[2][1] and calls[1][1] != calls[2][1]
    assert all(c.json["generationConfig"]["maxOutputTokens"] == 100_000 for c in fake.generate_calls)


def test_chat_small_max_tokens_hops_unary(modern, fake):
    answer = openai_v1(modern).chat.completions.create(model=MODEL, messages=USER, max_tokens=1000)
    assert answer.choices[0].message.content == WHOLE
    assert [m for m, _ in hops(fake)] == ["generateContent"] * 3


def test_chat_streamed_events_keep_coming(modern, fake):
    fake.models.hop_delay = 0.2
    arrivals = []
    stream = openai_v1(modern).chat.completions.create(
        model=MODEL, messages=USER, max_tokens=100_000, stream=True, stream_options={"include_usage": True}
    )
    chunks = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
        chunks.append(chunk)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == WHOLE
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]  # one answer: no finish at the hops
    assert chunks[-1].usage.completion_tokens == 600
    # Streamed, not assembled: the first text reached the client before the last hop was sent.
    assert len(fake.models.event_times) == 6 and arrivals[0] < fake.models.event_times[-1]


def test_hops_go_back_to_the_key_that_made_the_token(modern, fake):
    answer = openai_v1(modern, api_key=f"{KEY_A},{KEY_B}").chat.completions.create(
        model=MODEL, messages=USER, max_tokens=100_000
    )
    assert answer.choices[0].message.content == WHOLE
    assert len({c.key for c in fake.generate_calls}) == 1


def test_messages_whole_and_streamed(modern, fake):
    client = anthropic_client(modern)
    message = client.messages.create(
        model=MODEL, max_tokens=100_000, messages=USER, timeout=30
    )  # a timeout: the SDK wants a stream for this many tokens otherwise
    assert [b.text for b in message.content] == [WHOLE] and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 600
    assert [m for m, _ in hops(fake)] == ["streamGenerateContent"] * 3
    fake.received.clear()
    with client.messages.stream(model=MODEL, max_tokens=100_000, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == WHOLE and final.stop_reason == "end_turn" and final.usage.output_tokens == 600
    assert len(fake.generate_calls) == 3


def test_responses_whole_and_streamed(modern, fake):
    client = openai_v1(modern)
    response = client.responses.create(model=MODEL, input=PROMPT, max_output_tokens=100_000)
    assert response.output_text == WHOLE and response.status == "completed"
    assert response.usage.output_tokens == 600
    fake.received.clear()
    with client.responses.stream(model=MODEL, input=PROMPT, max_output_tokens=100_000) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == WHOLE and final.output_text == WHOLE and final.status == "completed"
    assert len(fake.generate_calls) == 3


def test_hops_are_bounded_by_the_clients_max_tokens(modern, fake):
    answer = openai_v1(modern).chat.completions.create(model=MODEL, messages=USER, max_tokens=150)
    # The first hop used 200 output tokens: no budget left, so no second hop.
    assert answer.choices[0].message.content == "[hop 1 a][hop 1 b]" and answer.choices[0].finish_reason == "length"
    assert len(fake.generate_calls) == 1


def test_native_gets_continuation_as_google_sends_it(modern, fake):
    r = httpx.post(
        modern + f"/v1beta/models/{MODEL}:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
        headers={"x-goog-api-key": KEY_A},
    )
    candidate = r.json()["candidates"][0]
    assert r.status_code == 200 and candidate["finishReason"] == "CONTINUATION" and candidate["continuationToken"]
    assert len(fake.generate_calls) == 1
