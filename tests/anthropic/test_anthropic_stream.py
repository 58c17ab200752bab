"""Streamed Messages over real HTTP: Anthropic's exact event sequence, the SDK's stream
helpers (sync and async), streaming proved by timing, `ping` heartbeats, errors before
and after the commit, and Gemini 3 signatures through a streamed tool loop."""

from __future__ import annotations

import asyncio
import json
import time

import anthropic
import httpx
import pytest

from handler.anthropic import signatures

from ..clients import anthropic_client as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, usage

USER = [{"role": "user", "content": "hi"}]
SIG = "CiQBcsjafE4kL9+/mCWQ0h2a5EN0ZXNpZ25hdHVyZS1ieXRlcw=="
BASH = {
    "name": "Bash",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}


def event(parts: list[dict], finish: str | None = None, model: str = "gemini-2.5-pro") -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(), "modelVersion": model, "responseId": "resp-s"}


def raw_stream(url: str, body: dict, key: str = KEY_A) -> tuple[httpx.Response, list[tuple[float, str, dict]]]:
    """POST a streamed Messages call; each SSE event (arrival time, name, data)."""
    out = []
    name = ""
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": USER, "stream": True, **body}
    with httpx.stream("POST", url + "/v1/messages", json=body, headers={"x-api-key": key}, timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((time.monotonic(), name, json.loads(line[6:])))
    return r, out


def test_exact_event_sequence(proxy, fake):
    r, got = raw_stream(proxy, {})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-proxy-model"] == "gemini-2.5-pro"
    assert [name for _, name, _ in got] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for _, name, data in got)
    start = got[0][2]["message"]
    assert start["model"] == "claude-sonnet-4-5" and start["role"] == "assistant" and start["content"] == []
    assert start["usage"]["input_tokens"] == 5
    assert got[1][2] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert "".join(d["delta"]["text"] for _, n, d in got if n == "content_block_delta") == "Hello, world!"
    assert got[-2][2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert got[-2][2]["usage"]["output_tokens"] == 3
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent" and call.query == {"alt": "sse"}


def test_stream_helper_with_thinking_and_tools(proxy, fake):
    fake.reply(
        events=[
            event([{"text": "Let me ", "thought": True}]),
            event([{"text": "run it.", "thought": True, "thoughtSignature": "TS=="}]),
            event([{"text": "Running "}, {"text": "ls."}]),
            event([{"functionCall": {"name": "Bash", "args": {"command": "ls -la"}}, "thoughtSignature": SIG}], "STOP"),
        ]
    )
    with client(proxy).messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=2000,
        messages=USER,
        tools=[BASH],
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Running ls."
    thinking, said, tool = final.content
    assert thinking.thinking == "Let me run it." and thinking.signature == "TS=="
    assert said.text == "Running ls." and tool.name == "Bash" and tool.input == {"command": "ls -la"}
    assert signatures.signature_of(tool.id) == SIG and final.stop_reason == "tool_use"
    assert fake.generate_calls[0].json["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 1024,
        "includeThoughts": True,
    }


def test_streaming_is_proved_by_timing(proxy, fake):
    fake.reply(events=[event([{"text": f"part {i} "}], "STOP" if i == 3 else None) for i in range(4)], delay=0.3)
    _, got = raw_stream(proxy, {})
    first_text = next(t for t, name, data in got if name == "content_block_delta")
    assert len(fake.event_times) == 4
    assert first_text < fake.event_times[1] < fake.event_times[-1]


def test_streamed_gemini_3_tool_loop_keeps_signatures(proxy, fake):
    c = client(proxy)
    fake.reply(
        events=[
            event(
                [{"functionCall": {"name": "Bash", "args": {"command": "pwd"}}, "thoughtSignature": SIG}],
                "STOP",
                "gemini-3-pro-preview",
            )
        ]
    )
    history = [{"role": "user", "content": "where am I?"}]
    with c.messages.stream(model="gemini-3-pro-preview", max_tokens=500, messages=history, tools=[BASH]) as stream:
        first = stream.get_final_message()
    (tool,) = first.content
    history += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "/home/me"}]},
    ]
    with c.messages.stream(model="gemini-3-pro-preview", max_tokens=500, messages=history, tools=[BASH]) as stream:
        assert "".join(stream.text_stream) == "Hello, world!"
    sent = fake.generate_calls[1].json["contents"]
    assert sent[1]["parts"] == [{"functionCall": {"name": "Bash", "args": {"command": "pwd"}}, "thoughtSignature": SIG}]
    assert sent[2]["parts"] == [{"functionResponse": {"name": "Bash", "response": {"result": "/home/me"}}}]


def test_async_stream(proxy, fake):
    async def run():
        async with anthropic.AsyncAnthropic(base_url=proxy, api_key=KEY_A, max_retries=0) as c:
            async with c.messages.stream(model="claude-haiku-4-5", max_tokens=9, messages=USER) as stream:
                pieces = [text async for text in stream.text_stream]
                return pieces, await stream.get_final_message()

    pieces, final = asyncio.run(run())
    assert pieces == ["Hello", ", world", "!"] and final.model == "claude-haiku-4-5"
    assert fake.generate_calls[0].path.endswith("gemini-2.5-flash:streamGenerateContent")


def test_pings_while_waiting_and_between_events(start_proxy, fake):
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.6
    r, got = raw_stream(url, {})
    assert r.status_code == 200
    names = [name for _, name, _ in got]
    first = names.index("message_start")
    assert first >= 2 and set(names[:first]) == {"ping"} and got[0][0] < fake.event_times[0]
    assert names[-1] == "message_stop"
    fake.keys[KEY_A] = "ok"
    fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}], "STOP")], delay=0.6)
    _, got = raw_stream(url, {})
    names = [name for _, name, _ in got]
    deltas = [i for i, name in enumerate(names) if name == "content_block_delta"]
    assert "ping" in names[deltas[0] : deltas[1]]
    fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}], "STOP")], delay=0.6)
    with client(url).messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=USER) as stream:
        assert "".join(stream.text_stream) == "ab"  # the SDK reads past the pings


def test_error_before_the_stream_keeps_its_status(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    r, _ = raw_stream(proxy, {})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    fake.keys[KEY_A] = "unavailable"
    try:
        with client(proxy).messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=USER) as stream:
            stream.get_final_message()
        raise AssertionError("no error")
    except anthropic.APIStatusError as exc:
        assert exc.status_code == 529 and exc.body["error"]["type"] == "overloaded_error"


def test_failover_before_the_stream(proxy, fake):
    fake.keys[KEY_A] = "quota_exhausted"
    body = {"model": "claude-sonnet-4-5", "max_tokens": 9, "messages": USER, "stream": True}
    with httpx.stream("POST", proxy + "/v1/messages", json=body, headers={"x-api-key": f"{KEY_A},{KEY_B}"}) as r:
        text = r.read().decode()
    assert r.status_code == 200 and "message_stop" in text and fake.generate_calls[-1].key == KEY_B


def test_failure_after_the_commit_is_an_error_event(proxy, fake):
    # (A break may cost the bytes that arrived with it: "two" is not asserted on.)
    fake.reply(
        events=[event([{"text": "one"}]), event([{"text": "two"}]), event([{"text": "3"}], "STOP")],
        fail_after=2,
        delay=0.2,
    )
    r, got = raw_stream(proxy, {})
    assert r.status_code == 200
    names = [n for _, n, _ in got]
    assert (
        names[:3] == ["message_start", "content_block_start", "content_block_delta"]
        and got[2][2]["delta"]["text"] == "one"
    )
    assert names[-1] == "error" and "message_stop" not in names
    assert got[-1][2] == {
        "type": "error",
        "error": {"type": "api_error", "message": "The Gemini API broke off its answer."},
    }
    with pytest.raises(anthropic.APIStatusError):
        fake.reply(events=[event([{"text": "a"}]), event([{"text": "b"}])], fail_after=1)
        with client(proxy).messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=USER) as stream:
            stream.get_final_message()


def test_overloaded_inside_the_upstream_stream(proxy, fake):
    fake.reply(events=[event([{"text": "one"}]), error_body(503, "UNAVAILABLE", "The model is overloaded.")])
    _, got = raw_stream(proxy, {})
    assert got[-1][1:] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "The model is overloaded."}},
    )


def test_blocked_prompt_streams_a_refusal(proxy, fake):
    fake.reply(events=[{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage()}])
    with client(proxy).messages.stream(model="claude-sonnet-4-5", max_tokens=9, messages=USER) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal" and "PROHIBITED_CONTENT" in final.content[0].text


def test_bad_input_is_a_400_before_any_stream(proxy, fake):
    r, _ = raw_stream(proxy, {"max_tokens": 0})
    assert r.status_code == 400 and fake.generate_calls == []


def test_streamed_web_search_with_the_stream_helper(proxy, fake):
    grounding = {
        "webSearchQueries": ["sky colour"],
        "groundingChunks": [{"web": {"uri": "https://example.org/sky", "title": "Sky"}}],
        "groundingSupports": [{"segment": {"text": "Blue."}, "groundingChunkIndices": [0]}],
    }
    last = event([], "STOP")
    last["candidates"][0]["groundingMetadata"] = grounding
    fake.reply(events=[event([{"text": "Blue."}]), last])
    search = {"type": "web_search_20250305", "name": "web_search"}
    with client(proxy).messages.stream(
        model="claude-sonnet-4-5", max_tokens=99, messages=USER, tools=[search]
    ) as stream:
        final = stream.get_final_message()
    text, used, results = final.content
    assert text.text == "Blue." and text.citations[0].url == "https://example.org/sky"
    assert used.type == "server_tool_use" and used.input == {"query": "sky colour"}
    assert results.type == "web_search_tool_result" and results.content[0].url == "https://example.org/sky"
    assert fake.generate_calls[0].json["tools"] == [{"googleSearch": {}}]
