"""Sampling parameters on the Messages route are checked before anything goes upstream
(translate/params, as on the chat route): a value out of Anthropic's range is a 400 in
Anthropic's shape that names the field, from the real `anthropic` SDK, for messages and
count_tokens alike; values in range reach Gemini as its generationConfig."""

from __future__ import annotations

import anthropic
import pytest

from ..clients import anthropic_client as client

USER = [{"role": "user", "content": "hi"}]
BAD = [
    ({"temperature": 5}, "temperature"),
    ({"temperature": -5}, "temperature"),
    ({"temperature": 1.5}, "temperature"),  # Anthropic's range is 0 to 1
    ({"temperature": "0.5"}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_k": -3}, "top_k"),
    ({"top_k": 0}, "top_k"),
    ({"top_k": 2.5}, "top_k"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"stop_sequences": ["a", "b", "c", "d", "e", "f"]}, "stop_sequences"),
    ({"stop_sequences": [1]}, "stop_sequences"),
]


@pytest.mark.parametrize("change, field", BAD)
def test_out_of_range_sampling_is_a_400_with_nothing_sent(proxy, fake, change, field):
    extra = dict(change)  # this SDK takes the sampling fields as extra_body only
    max_tokens = extra.pop("max_tokens", 16)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=max_tokens, messages=USER, extra_body=extra)
    error = caught.value.body["error"]
    assert caught.value.status_code == 400 and error["type"] == "invalid_request_error"
    assert error["message"].startswith(field)
    assert fake.received == []


@pytest.mark.parametrize("change, field", [case for case in BAD if "max_tokens" not in case[0]])
def test_count_tokens_checks_them_too(proxy, fake, change, field):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(proxy).messages.count_tokens(model="claude-sonnet-4-5", messages=USER, extra_body=change)
    assert caught.value.body["error"]["message"].startswith(field) and fake.received == []


def test_in_range_values_reach_gemini(proxy, fake):
    client(proxy).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=2**40,  # more than any model writes: Gemini's ceiling instead
        timeout=30,  # (the SDK would refuse so large a max_tokens unstreamed without one)
        messages=USER,
        extra_body={"temperature": 1, "top_p": 0.5, "top_k": 1, "stop_sequences": ["a", "b", "c", "d", "e"]},
    )
    (call,) = fake.generate_calls
    assert call.json["generationConfig"] == {
        "maxOutputTokens": 65536,
        "temperature": 1,
        "topP": 0.5,
        "topK": 1,
        "stopSequences": ["a", "b", "c", "d", "e"],
    }
