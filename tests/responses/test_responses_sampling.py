"""Sampling parameters on the Responses route are checked before anything goes upstream
(translate/params, as on the chat route): a value out of range is a 400 in OpenAI's
shape that names the field, from the real `openai` SDK, streamed or not; values in
range reach Gemini as its generationConfig."""

from __future__ import annotations

import openai
import pytest

from ..clients import openai_v1 as client


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "change, field",
    [
        ({"temperature": 5}, "temperature"),
        ({"temperature": -5}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_output_tokens": -1}, "max_output_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 2**40}, "max_output_tokens"),
        ({"max_output_tokens": 1.5}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
    ],
)
def test_out_of_range_sampling_is_a_400_with_nothing_sent(proxy, fake, change, field, stream):
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).responses.create(model="gemini-2.5-flash", input="hi", stream=stream, **change)
    error = caught.value.body
    assert caught.value.status_code == 400 and error["type"] == "invalid_request_error"
    assert error["param"] == field and error["message"].startswith(field)
    assert fake.received == []


def test_in_range_values_reach_gemini(proxy, fake):
    client(proxy).responses.create(model="gemini-2.5-flash", input="hi", temperature=2, top_p=0, max_output_tokens=2.0)
    (call,) = fake.generate_calls
    assert call.json["generationConfig"] == {"maxOutputTokens": 2, "temperature": 2, "topP": 0}
