"""Streamed OpenAI chat completions over real HTTP: chunks exactly as OpenAI sends them,
streaming proved by timing, heartbeats, errors before and after the stream started, and
the upstream stopped when the client leaves."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from ..clients import openai_v1 as client
from ..clients import timed_sse_lines
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, usage

USER = [{"role": "user", "content": "hi"}]


def event(parts: list[dict] | None = None, finish: str | None = None, index: int = 0, **meta) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts or []}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage(**meta),
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-s",
    }


def raw_stream(url: str, body: dict, key: str = KEY_A) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """POST a streamed chat call; every non-empty SSE line with its arrival time."""
    return timed_sse_lines(url + "/v1/chat/completions", body, key)


def data(lines: list[tuple[float, str]]) -> list:
    """The data payloads, JSON-decoded ("[DONE]" kept as it is)."""
    out = []
    for _, line in lines:
        if line.startswith("data: "):
            payload = line[6:]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def test_chunks_exactly_as_openai_sends_them(proxy, fake):
    r, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER, "temperature": 0})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-proxy-key"] == "AIzaSy...1111"
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent" and call.query == {"alt": "sse"}
    assert call.json["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert call.json["generationConfig"] == {"temperature": 0}
    *chunks, done = data(lines)
    assert done == "[DONE]"
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": ", world"},
        {"content": "!"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "stop"]
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk" and chunk["id"] == "chatcmpl-fake-response-id"
        assert chunk["model"] == "gemini-2.5-flash" and chunk["choices"][0]["index"] == 0
        assert "usage" not in chunk  # only with stream_options.include_usage


def test_include_usage(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "Hi"}], prompt=7, answer=1),
            event([{"text": "!"}], "STOP", prompt=7, answer=2, thoughts=5),
        ]
    )
    _, lines = raw_stream(
        proxy, {"model": "gemini-2.5-flash", "messages": USER, "stream_options": {"include_usage": True}}
    )
    *chunks, last, done = data(lines)
    assert done == "[DONE]"
    assert all("usage" in c and c["usage"] is None for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert last["choices"] == [] and last["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 7,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }


def test_sdk_stream_with_usage(proxy, fake):
    stream = client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_is_proved_by_timing(proxy, fake):
    fake.reply(events=[event([{"text": f"part {i} "}], "STOP" if i == 3 else None) for i in range(4)], delay=0.3)
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    first_content = next(t for t, line in lines if '"content":"part 0 "' in line)
    assert len(fake.event_times) == 4
    # The client had the first piece before the upstream had even sent its last.
    assert first_content < fake.event_times[-1]
    assert first_content < fake.event_times[1]


def test_tool_calls_and_thoughts_with_the_stream_helper(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "Thinking about weather.", "thought": True}]),
            event([{"text": "Checking."}]),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}], "STOP", thoughts=4),
        ]
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    c = client(proxy)
    assert hasattr(c.chat.completions, "stream")  # the openai SDK's stream helper
    with c.chat.completions.stream(model="gemini-2.5-flash", messages=USER, tools=tools) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in kinds
    (choice,) = final.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    paris, rome = choice.message.tool_calls
    assert (paris.function.name, json.loads(paris.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert json.loads(rome.function.arguments) == {"city": "Rome"}
    assert paris.id != rome.id


def test_streamed_tool_call_deltas_have_an_index(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "Hmm.", "thought": True}]),
            event(
                [
                    {"functionCall": {"name": "a", "args": {}}, "thoughtSignature": "c2ln"},
                    {"functionCall": {"name": "b", "args": {"x": 1}}},
                ]
            ),
            event([{"functionCall": {"name": "c", "args": {}}}], "STOP"),
        ]
    )
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    *chunks, done = data(lines)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": "Hmm."}  # thoughts never in content
    calls = deltas[2]["tool_calls"] + deltas[3]["tool_calls"]
    assert [(t["index"], t["type"], t["function"]["name"], t["function"]["arguments"]) for t in calls] == [
        (0, "function", "a", "{}"),
        (1, "function", "b", '{"x":1}'),
        (2, "function", "c", "{}"),
    ]
    assert all(t["id"].startswith("call_") for t in calls)
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}
    assert done == "[DONE]"


def test_streamed_blocked_prompt(proxy, fake):
    fake.reply(
        events=[
            {
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": usage(answer=0),
                "modelVersion": "gemini-2.5-flash",
            }
        ]
    )
    stream = client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "blocked" in text and "SAFETY" in text
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_streamed_several_candidates(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "A"}], index=0),
            event([{"text": "B"}], index=1),
            event([], "STOP", index=0),
            event([], "MAX_TOKENS", index=1),
        ]
    )
    chunks = list(client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, n=2, stream=True))
    text = {0: "", 1: ""}
    finish = {}
    for chunk in chunks:
        for choice in chunk.choices:
            text[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert text == {0: "A", 1: "B"} and finish == {0: "stop", 1: "length"}
    assert fake.generate_calls[0].json["generationConfig"] == {"candidateCount": 2}


def test_stream_without_finish_reason_still_finishes(proxy, fake):
    fake.reply(events=[event([{"text": "cut"}])])
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    *chunks, done = data(lines)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and done == "[DONE]"


# Errors -------------------------------------------------------------------------------


def test_error_before_the_stream_keeps_its_status(proxy, fake):
    fake.keys.update({KEY_A: "rate_limited", KEY_B: "rate_limited"})
    r, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER}, key=f"{KEY_A},{KEY_B}")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.headers["content-type"] == "application/json"
    assert json.loads(lines[0][1])["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError):
        client(proxy, api_key=f"{KEY_A},{KEY_B}").chat.completions.create(
            model="gemini-2.5-flash", messages=USER, stream=True
        )


def test_failover_before_the_stream(proxy, fake):
    fake.keys[KEY_A] = "unavailable"
    r, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER}, key=f"{KEY_A},{KEY_B}")
    assert r.status_code == 200 and data(lines)[-1] == "[DONE]"
    assert fake.generate_calls[-1].key == KEY_B


def test_upstream_breaking_off_ends_with_an_error_event(proxy, fake):
    # (A break may cost the bytes that arrived with it: "two" is not asserted on.)
    fake.reply(
        events=[event([{"text": "one"}]), event([{"text": "two"}]), event([{"text": "three"}], "STOP")],
        fail_after=2,
        delay=0.2,
    )
    r, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    assert r.status_code == 200
    *chunks, last = data(lines)
    assert chunks[1]["choices"][0]["delta"] == {"content": "one"}
    assert last == {
        "error": {"message": "The Gemini API broke off its answer.", "type": "api_error", "param": None, "code": None}
    }
    with pytest.raises(openai.APIError):
        fake.reply(events=[event([{"text": "one"}]), event([{"text": "two"}])], fail_after=1)
        list(client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, stream=True))


def test_error_event_inside_the_upstream_stream(proxy, fake):
    fake.reply(events=[event([{"text": "one"}]), error_body(503, "UNAVAILABLE", "The model is overloaded.")])
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    *_, last = data(lines)
    assert last == {"error": {"message": "The model is overloaded.", "type": "api_error", "param": None, "code": None}}


# Heartbeats ---------------------------------------------------------------------------


def test_heartbeats_while_waiting_for_the_first_answer(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.6
    r, lines = raw_stream(url, {"model": "gemini-2.5-flash", "messages": USER})
    assert r.status_code == 200
    first_data = next(i for i, (_, line) in enumerate(lines) if line.startswith("data:"))
    assert first_data >= 2 and all(line == ": keep-alive" for _, line in lines[:first_data])
    assert lines[0][0] < fake.event_times[0]  # the first heartbeat came before any answer
    assert data(lines)[-1] == "[DONE]"
    # The openai SDK reads through the comments.
    fake.keys[KEY_A] = "slow"
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client(url).chat.completions.create(model="gemini-2.5-flash", messages=USER, stream=True)
    )
    assert text == "Hello, world!"


def test_heartbeats_between_events(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}], "STOP")], delay=0.7)
    _, lines = raw_stream(url, {"model": "gemini-2.5-flash", "messages": USER})
    texts = [line for _, line in lines]
    a = next(i for i, line in enumerate(texts) if '"content":"a"' in line)
    b = next(i for i, line in enumerate(texts) if '"content":"b"' in line)
    assert b - a >= 3 and all(line == ": keep-alive" for line in texts[a + 1 : b])


def test_error_after_heartbeats_becomes_an_error_event(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.reply(error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded."), status=429, delay=0.7)
    r, lines = raw_stream(url, {"model": "gemini-2.5-flash", "messages": USER})
    assert r.status_code == 200  # committed by the heartbeats
    assert lines[0][1] == ": keep-alive"
    assert data(lines) == [
        {
            "error": {
                "message": "Quota exceeded.",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    ]


# The client leaves ----------------------------------------------------------------------


def test_client_disconnect_stops_the_upstream(proxy, fake):
    fake.reply(events=[event([{"text": f"{i} "}]) for i in range(30)], delay=0.05)
    with httpx.stream(
        "POST",
        proxy + "/v1/chat/completions",
        json={"model": "gemini-2.5-flash", "messages": USER, "stream": True},
        headers={"authorization": f"Bearer {KEY_A}"},
    ) as r:
        for line in r.iter_lines():
            if '"content":"0 "' in line:
                break
    time.sleep(0.5)
    sent = len(fake.event_times)
    time.sleep(0.3)
    assert sent < 30 and len(fake.event_times) == sent


# The async SDK --------------------------------------------------------------------------


def test_async_sdk(proxy, fake):
    async def main():
        c = AsyncOpenAI(base_url=proxy + "/v1", api_key=KEY_A, max_retries=0)
        whole = await c.chat.completions.create(model="gemini-2.5-flash", messages=USER, reasoning_effort="low")
        stream = await c.chat.completions.create(
            model="gemini-2.5-flash", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        await c.close()
        return whole, chunks

    whole, chunks = asyncio.run(main())
    assert whole.choices[0].message.content == "echo: hi"
    assert fake.generate_calls[0].json["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}
    }
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    assert chunks[-1].usage.prompt_tokens == 5


def test_upstream_event_of_an_unexpected_shape(proxy, fake):
    fake.reply(events=[event([{"text": "ok"}]), {"candidates": [{"content": {"parts": [5]}}]}])
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER})
    *chunks, last = data(lines)
    assert chunks[1]["choices"][0]["delta"] == {"content": "ok"}
    assert last["error"]["type"] == "api_error" and "unexpected shape" in last["error"]["message"]
