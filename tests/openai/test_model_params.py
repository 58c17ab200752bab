"""Parameters a model refuses never fail the call: each family of refused parameter
gives a 200, says what was dropped in `x-proxy-dropped`, and costs one upstream retry
at most (none once the proxy knows, or when its tables already know)."""

from __future__ import annotations

import httpx
import pytest

from ..clients import anthropic_client, openai_v1
from ..conftest import KEY_A
from ..fake_models import MODERN

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def modern(start_proxy, fake, _proxies) -> str:
    url = start_proxy(MODEL_LIST_SECONDS="601")
    for server in _proxies.values():
        if server.url == url:
            server.app.state.refusals = None  # nothing learned yet
    fake.models.use(MODERN)
    return url


def sent(fake) -> list[dict]:
    return [c.json["generationConfig"] for c in fake.generate_calls]


def test_sampling_on_a_model_that_refuses_it_is_dropped_once_then_remembered(modern, fake):
    client = openai_v1(modern)
    answer = client.chat.completions.with_raw_response.create(
        model="gemini-4-hydrogen", messages=USER, temperature=0.2, top_p=0.9
    )
    assert answer.status_code == 200 and answer.parse().choices[0].message.content == "echo: hi"
    assert answer.headers["x-proxy-dropped"] == "temperature, top_p"
    # Gemini names one field per 400; the sampling parameters go together: one retry.
    first, second = sent(fake)
    assert "temperature" in first and "temperature" not in second and "topP" not in second
    fake.received.clear()
    again = client.chat.completions.with_raw_response.create(
        model="gemini-4-hydrogen", messages=USER, temperature=0.2, top_p=0.9
    )
    assert again.headers["x-proxy-dropped"] == "temperature, top_p"
    (config,) = sent(fake)  # no retry: left out at once
    assert "temperature" not in config and "topP" not in config


def test_one_refused_field_costs_one_retry_at_most(modern, fake):
    r = httpx.post(
        modern + "/v1/chat/completions",
        json={"model": "gemini-3.8-flash-tts", "messages": USER, "temperature": 0.5},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.headers["x-proxy-dropped"] == "temperature"
    assert len(fake.generate_calls) == 2 and "temperature" not in sent(fake)[1]


def test_minimal_on_38_flash_is_clamped_by_the_table(modern, fake):
    answer = openai_v1(modern).chat.completions.with_raw_response.create(
        model="gemini-3.8-flash", messages=USER, reasoning_effort="minimal"
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning_effort"
    (config,) = sent(fake)
    assert config["thinkingConfig"]["thinkingLevel"] == "low"


def test_a_level_no_table_knows_is_replaced_by_the_nearest_gemini_names(modern, fake):
    """extra_body's thinking_level goes as the client wrote it; Gemini's 400 names the
    levels it takes, and the proxy retries once with the nearest."""
    client = openai_v1(modern)
    answer = client.chat.completions.with_raw_response.create(
        model="gemini-3.8-flash",
        messages=USER,
        extra_body={"google": {"thinking_config": {"thinking_level": "minimal"}}},
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "thinking_level"
    first, second = sent(fake)
    assert first["thinkingConfig"]["thinkingLevel"] == "minimal" and second["thinkingConfig"]["thinkingLevel"] == "low"


def test_xhigh_on_a_model_without_it(modern, fake):
    answer = openai_v1(modern).chat.completions.with_raw_response.create(
        model="gemini-4-argon", messages=USER, reasoning_effort="xhigh"
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning_effort"
    (config,) = sent(fake)
    assert config["thinkingConfig"]["thinkingLevel"] == "high"
    fake.received.clear()
    kept = openai_v1(modern).chat.completions.with_raw_response.create(
        model="gemini-4-hydrogen", messages=USER, reasoning_effort="xhigh"
    )
    assert "x-proxy-dropped" not in kept.headers and sent(fake)[0]["thinkingConfig"]["thinkingLevel"] == "xhigh"


@pytest.mark.parametrize(("model", "level"), [("gemini-4-hydrogen", "xhigh"), ("gemini-3.8-flash", "high")])
def test_max_effort_is_the_models_top_level(modern, fake, model, level):
    answer = openai_v1(modern).chat.completions.with_raw_response.create(
        model=model, messages=USER, reasoning_effort="max"
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning_effort"
    (config,) = sent(fake)
    assert config["thinkingConfig"]["thinkingLevel"] == level


def test_responses_reasoning_effort_max_and_minimal(modern, fake):
    client = openai_v1(modern)
    answer = client.responses.with_raw_response.create(
        model="gemini-3.8-flash", input="hi", reasoning={"effort": "minimal"}
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning.effort"
    assert sent(fake)[0]["thinkingConfig"]["thinkingLevel"] == "low"


def test_anthropic_sampling_and_budget_on_gemini_4(modern, fake):
    answer = anthropic_client(modern).messages.with_raw_response.create(
        model="gemini-4-hydrogen",
        max_tokens=200_000,
        extra_body={"temperature": 0.3},
        thinking={"type": "enabled", "budget_tokens": 100_000},
        messages=USER,
        timeout=30,  # the SDK wants a stream for this many tokens unless a timeout is given
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "temperature"
    config = sent(fake)[-1]
    assert config["thinkingConfig"]["thinkingLevel"] == "xhigh" and config["maxOutputTokens"] == 200_000


def test_native_passes_gemini_s_refusal_through(modern, fake):
    r = httpx.post(
        modern + "/v1beta/models/gemini-4-hydrogen:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0.2}},
        headers={"x-goog-api-key": KEY_A},
    )
    assert r.status_code == 400 and "temperature" in r.json()["error"]["message"]
    assert len(fake.generate_calls) == 1 and "x-proxy-dropped" not in r.headers


def test_a_400_about_something_else_is_not_retried(modern, fake):
    fake.reply(
        {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}, 400
    )
    r = httpx.post(
        modern + "/v1/chat/completions",
        json={"model": "gemini-3.8-flash", "messages": USER, "temperature": 0.5},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 400 and len(fake.generate_calls) == 1


@pytest.mark.parametrize(
    ("effort", "level", "dropped"), [("max", "high", "output_config.effort"), ("low", "low", None)]
)
def test_anthropic_output_config_effort(modern, fake, effort, level, dropped):
    r = httpx.post(
        modern + "/v1/messages",
        json={"model": "gemini-3.8-flash", "max_tokens": 100, "messages": USER, "output_config": {"effort": effort}},
        headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 200 and r.headers.get("x-proxy-dropped") == dropped
    (config,) = sent(fake)
    assert config["thinkingConfig"] == {"thinkingLevel": level}


def test_streamed_call_drops_the_refused_field_before_the_stream_starts(modern, fake):
    with openai_v1(modern).chat.completions.with_streaming_response.create(
        model="gemini-4-hydrogen", messages=USER, temperature=0.7, stream=True
    ) as response:
        assert response.status_code == 200 and response.headers["x-proxy-dropped"] == "temperature"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "Hello, world!"
    first, second = fake.generate_calls
    assert (
        "temperature" in first.json["generationConfig"]
        and "streamGenerateContent" in second.path
        and "temperature" not in second.json["generationConfig"]
    )
