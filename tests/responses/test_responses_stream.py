"""Streamed Responses over real HTTP: OpenAI's event sequence with increasing sequence
numbers, the SDK's stream helper, streaming proved by timing, heartbeats, errors before
and after the commit."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from handler.responses import signatures

from ..clients import openai_v1 as client
from ..clients import timed_sse_lines
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, usage

SIG = "Cp0BAY89a1/streamed+signature=="


def event(parts: list[dict] | None = None, finish: str | None = None, model: str = "gemini-2.5-flash", **meta) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts or []}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(**meta), "modelVersion": model, "responseId": "resp-s"}


def raw_stream(url: str, body: dict, key: str = KEY_A) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """POST a streamed Responses call; every non-empty SSE line with its arrival time."""
    return timed_sse_lines(url + "/v1/responses", {"model": "gemini-2.5-flash", **body}, key)


def data(lines: list[tuple[float, str]]) -> list[dict]:
    return [json.loads(line[6:]) for _, line in lines if line.startswith("data: ")]


def test_the_full_event_sequence(proxy, fake):
    r, lines = raw_stream(proxy, {"input": "hi"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-proxy-key"] == "AIzaSy...1111"
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent" and call.query == {"alt": "sse"}
    names = [line[7:] for _, line in lines if line.startswith("event: ")]
    events = data(lines)
    assert names == [e["type"] for e in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["Hello", ", world", "!"]
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"][0]["content"][0]["text"] == "Hello, world!"
    assert final["usage"]["total_tokens"] == 8 and final["id"] == events[0]["response"]["id"]


def test_the_sdk_stream_helper_with_reasoning_and_tool_calls(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "Thinking about weather.", "thought": True}]),
            event([{"text": "Checking."}]),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}]),
            event([{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}], "STOP", thoughts=4),
        ]
    )
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    with client(proxy).responses.stream(
        model="gemini-2.5-flash", input="weather?", tools=tools, reasoning={"summary": "auto"}
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.reasoning_summary_text.delta" in kinds and "response.function_call_arguments.done" in kinds
    reasoning, message, paris, rome = final.output
    assert reasoning.summary[0].text == "Thinking about weather." and message.content[0].text == "Checking."
    assert (paris.name, json.loads(paris.arguments), json.loads(rome.arguments)) == (
        "get_weather",
        {"city": "Paris"},
        {"city": "Rome"},
    )
    assert signatures.of_call_id(paris.call_id) == SIG and paris.call_id != rome.call_id
    assert final.usage.output_tokens_details.reasoning_tokens == 4
    assert fake.generate_calls[0].json["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}


def test_streaming_is_proved_by_timing(proxy, fake):
    fake.reply(events=[event([{"text": f"part {i} "}], "STOP" if i == 3 else None) for i in range(4)], delay=0.3)
    _, lines = raw_stream(proxy, {"input": "hi"})
    first = next(t for t, line in lines if '"delta":"part 0 "' in line)
    assert len(fake.event_times) == 4
    assert first < fake.event_times[1]  # the client had the first piece before the upstream sent the second


def test_streamed_signature_of_the_answer_text_comes_back(proxy, fake):
    """Gemini 3 streams the answer's signature in a last, empty part: it rides in a
    reasoning item after the message, and comes back unchanged."""
    model = "gemini-3-pro-preview"
    fake.reply(
        events=[
            event([{"text": "Hi"}], model=model),
            event([{"text": "", "thoughtSignature": SIG}], "STOP", model=model),
        ]
    )
    body = {"model": model, "input": "hi", "include": ["reasoning.encrypted_content"]}
    _, lines = raw_stream(proxy, body)
    final = data(lines)[-1]["response"]
    message, reasoning = final["output"]
    assert reasoning["encrypted_content"] == signatures.encrypted(SIG)
    r = httpx.post(
        proxy + "/v1/responses",
        headers={"authorization": f"Bearer {KEY_A}"},
        json={
            **body,
            "input": [{"role": "user", "content": "hi"}, message, reasoning, {"role": "user", "content": "more"}],
        },
    )
    assert r.status_code == 200
    assert fake.generate_calls[-1].json["contents"][1] == {
        "role": "model",
        "parts": [{"text": "Hi"}, {"text": "", "thoughtSignature": SIG}],
    }


def test_incomplete_stream(proxy, fake):
    fake.reply(events=[event([{"text": "cut"}], "MAX_TOKENS")])
    events = data(raw_stream(proxy, {"input": "hi", "max_output_tokens": 1})[1])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


# Errors -------------------------------------------------------------------------------


def test_error_before_the_stream_keeps_its_status(proxy, fake):
    fake.keys.update({KEY_A: "rate_limited", KEY_B: "rate_limited"})
    r, lines = raw_stream(proxy, {"input": "hi"}, key=f"{KEY_A},{KEY_B}")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert json.loads(lines[0][1])["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError):
        client(proxy, api_key=f"{KEY_A},{KEY_B}").responses.create(model="gemini-2.5-flash", input="hi", stream=True)


def test_upstream_breaking_off_ends_with_error_and_response_failed(proxy, fake):
    fake.reply(
        events=[event([{"text": "one"}]), event([{"text": "two"}]), event([{"text": "three"}], "STOP")],
        fail_after=2,
        delay=0.2,
    )
    r, lines = raw_stream(proxy, {"input": "hi"})
    assert r.status_code == 200
    events = data(lines)
    assert events[4]["delta"] == "one"
    error, failed = events[-2:]
    assert error["type"] == "error" and error["code"] == "server_error" and "broke off" in error["message"]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-3]["type"] == "response.output_item.done"  # the open message was closed first


def test_error_event_inside_the_upstream_stream(proxy, fake):
    fake.reply(events=[event([{"text": "one"}]), error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded.")])
    events = data(raw_stream(proxy, {"input": "hi"})[1])
    assert events[-2] == {
        "type": "error",
        "sequence_number": events[-2]["sequence_number"],
        "code": "rate_limit_exceeded",
        "message": "Quota exceeded.",
        "param": None,
    }
    assert events[-1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "Quota exceeded."}


# Heartbeats ---------------------------------------------------------------------------


def test_heartbeats_while_waiting_and_between_events(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.6
    r, lines = raw_stream(url, {"input": "hi"})
    assert r.status_code == 200
    texts = [line for _, line in lines]
    # The commit sends the opening events at once, then heartbeats until Gemini answers.
    assert texts[:4] == ["event: response.created", texts[1], "event: response.in_progress", texts[3]]
    beats = [t for t, line in lines if line == ": keep-alive"]
    assert len(beats) >= 2 and beats[0] < fake.event_times[0] and lines[0][0] < fake.event_times[0]
    assert data(lines)[-1]["type"] == "response.completed"
    fake.keys.clear()
    fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}], "STOP")], delay=0.7)
    texts = [line for _, line in raw_stream(url, {"input": "hi"})[1]]
    a = next(i for i, line in enumerate(texts) if '"delta":"a"' in line)
    b = next(i for i, line in enumerate(texts) if '"delta":"b"' in line)
    assert b - a >= 4 and all(line == ": keep-alive" for line in texts[a + 1 : b - 1])
    # The openai SDK reads through the comments.
    fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}], "STOP")], delay=0.5)
    text = "".join(
        e.delta
        for e in client(url).responses.create(model="gemini-2.5-flash", input="hi", stream=True)
        if e.type == "response.output_text.delta"
    )
    assert text == "ab"


def test_streamed_url_citations(proxy, fake):
    text = "Paris is in France."
    last = event([{"text": " France."}], "STOP")
    last["candidates"][0]["groundingMetadata"] = {
        "groundingChunks": [{"web": {"uri": "https://example.org/paris", "title": "example.org"}}],
        "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": len(text)}, "groundingChunkIndices": [0]}],
    }
    fake.reply(events=[event([{"text": "Paris is in"}]), last])
    events = data(raw_stream(proxy, {"input": "Where is Paris?", "tools": [{"type": "web_search_preview"}]})[1])
    kinds = [e["type"] for e in events]
    added = events[kinds.index("response.output_text.annotation.added")]
    assert kinds.index("response.output_text.annotation.added") < kinds.index("response.output_text.done")
    assert added["annotation"] == {
        "type": "url_citation",
        "start_index": 0,
        "end_index": len(text),
        "url": "https://example.org/paris",
        "title": "example.org",
    }
    assert events[-1]["response"]["output"][0]["content"][0]["annotations"] == [added["annotation"]]
    assert fake.generate_calls[0].json["tools"] == [{"googleSearch": {}}]
