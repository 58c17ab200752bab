"""Forward compatibility and the current Messages contract (issue 22): server tools on
Gemini's built-in tools, what is new dropped and named in `x-proxy-dropped` (whole and
streamed answers alike), a tool_choice that forces a dropped tool refused,
`output_config.format` as Gemini's JSON-schema answer and `output_config.effort` as a
thinking level; the AI SDK's generateObject end to end."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import anthropic
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.anthropic.request import to_gemini
from handler.config import Settings
from handler.errors import BadRequest
from handler.translate.dropped import header

from ..clients import anthropic_client as client
from ..conftest import KEY_A
from ..fake_gemini import text_response
from ..fake_models import resolved

SETTINGS = Settings.from_env({})
USER = [{"role": "user", "content": "hi"}]
WEATHER = {"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
ADVISOR = {"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-4-8"}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
JS = Path(__file__).resolve().parents[1] / "js"


def translate(**body):
    with resolved():  # Claude names resolve to families, as in a request
        return asyncio.run(
            to_gemini({"max_tokens": 100, "model": "claude-sonnet-4-5", "messages": USER, **body}, SETTINGS)
        )


def test_server_tools_map_to_gemini_built_in_tools():
    tools = [
        {"type": "web_fetch_20260209", "name": "web_fetch", "max_uses": 2},
        {"type": "code_execution_20250825", "name": "code_execution"},
        {"type": "web_search_20260209", "name": "web_search"},
        WEATHER,
    ]
    on_3 = translate(model="gemini-3-flash-preview", tools=tools)
    assert on_3.payload["tools"][1:] == [{"urlContext": {}}, {"codeExecution": {}}, {"googleSearch": {}}]
    assert on_3.payload["toolConfig"] == {"includeServerSideToolInvocations": True} and not on_3.dropped
    alone = translate(model="gemini-2.5-flash", tools=tools[:2])
    assert alone.payload["tools"] == [{"urlContext": {}}, {"codeExecution": {}}] and not alone.dropped
    # Gemini 2.5 refuses built-in tools next to functions: the functions stay, the rest are named.
    on_25 = translate(model="gemini-2.5-pro", tools=tools)
    assert [list(t) for t in on_25.payload["tools"]] == [["functionDeclarations"]]
    assert on_25.dropped == [
        "tools[0]:web_fetch_20260209",
        "tools[1]:code_execution_20250825",
        "tools[2]:web_search_20260209",
    ]


def test_new_things_are_dropped_and_named():
    call = translate(
        tools=[WEATHER, ADVISOR, {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}],
        tool_choice={"type": "auto_v2"},
        thinking={"type": "focused", "budget": 5},
        speed="fast",
        output_config={"task_budget": {"type": "tokens", "total": 1000}},
        system=[{"type": "text", "text": "Be brief."}, {"type": "system_reminder", "text": "x"}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "video", "source": {"type": "url"}}]},
            {
                "role": "assistant",
                "content": [{"type": "compaction", "content": "summary"}, {"type": "text", "text": "ok"}],
            },
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "hologram"}}, {"type": "text", "text": "go"}],
            },
        ],
    )
    assert call.dropped == [
        "speed",
        "system[1]:system_reminder",
        "messages[0].content[1]:video",
        "messages[1].content[0]:compaction",
        "messages[2].content[0].source:hologram",
        "tools[1]:advisor_20260301",
        "tools[2]:text_editor_20250728",
        "tool_choice:auto_v2",
        "thinking:focused",
        "output_config.task_budget",
    ]
    assert [d["name"] for d in call.payload["tools"][0]["functionDeclarations"]] == ["weather"]
    assert "toolConfig" not in call.payload and "thinkingConfig" not in call.payload.get("generationConfig", {})
    assert [p["text"] for c in call.payload["contents"] for p in c["parts"]] == ["hi", "ok", "go"]


def test_any_tool_when_every_tool_was_dropped_is_a_400():
    with pytest.raises(BadRequest) as caught:
        translate(tools=[ADVISOR], tool_choice={"type": "any"})
    assert caught.value.param == "tool_choice" and "advisor_20260301" in caught.value.message
    assert translate(tools=[ADVISOR, WEATHER], tool_choice={"type": "any"}).payload["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }


def test_a_forced_web_search_is_dropped_not_refused():
    call = translate(
        tools=[WEATHER, {"type": "web_search_20250305", "name": "web_search"}],
        tool_choice={"type": "tool", "name": "web_search"},
    )
    assert "toolConfig" not in call.payload and "tool_choice:web_search" in call.dropped


def test_a_tool_choice_that_forces_a_dropped_tool_is_a_clear_400(proxy, fake):
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(proxy).messages.create(
            model="claude-sonnet-4-5",
            max_tokens=64,
            messages=USER,
            tools=[WEATHER, ADVISOR],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": "advisor"},
        )
    error = caught.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error" and "advisor" in error["message"]
    assert "advisor_20260301" in error["message"] and not fake.received


@pytest.mark.parametrize(
    ("model", "thinking", "effort", "expected"),
    [
        ("gemini-3-pro-preview", {"type": "adaptive"}, "low", {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemini-3-flash-preview", None, "medium", {"thinkingLevel": "medium"}),
        ("gemini-3-pro-preview", None, "medium", {"thinkingLevel": "high"}),  # 3.0 Pro: low and high only
        ("gemini-3-flash-preview", {"type": "adaptive"}, "max", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-2.5-flash", None, "max", {"thinkingBudget": 24576}),
        ("gemini-2.5-pro", {"type": "adaptive"}, "high", {"thinkingBudget": 24576, "includeThoughts": True}),
    ],
)
def test_effort_sets_the_thinking_level(model, thinking, effort, expected):
    body = {"model": model, "output_config": {"effort": effort}, **({"thinking": thinking} if thinking else {})}
    call = translate(**body)
    assert call.payload["generationConfig"]["thinkingConfig"] == expected and not call.dropped


def test_explicit_thinking_wins_over_effort():
    call = translate(model="gemini-2.5-flash", thinking={"type": "disabled"}, output_config={"effort": "high"})
    assert call.payload["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    assert call.dropped == ["output_config.effort:high"]
    assert translate(output_config={"effort": "ludicrous"}).dropped == ["output_config.effort:ludicrous"]


def test_structured_output_is_gemini_json_and_the_answer_is_the_json(proxy, fake):
    fake.reply(text_response(json.dumps({"city": "Paris", "population": 2102650}), "gemini-2.5-pro"))
    raw = client(proxy).messages.with_raw_response.create(
        model="claude-sonnet-4-5",
        max_tokens=512,
        messages=[{"role": "user", "content": "The largest city of France?"}],
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    message = raw.parse()
    answer = json.loads(message.content[0].text)  # type: ignore[union-attr]
    assert answer == {"city": "Paris", "population": 2102650}
    config = fake.generate_calls[0].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config.get("responseJsonSchema") or config["responseSchema"]
    assert schema["required"] == ["city", "population"] and set(schema["properties"]) == {"city", "population"}
    assert "x-proxy-dropped" not in raw.headers


def test_a_new_output_format_type_is_a_clear_400(proxy, fake):
    response = httpx.post(
        f"{proxy}/v1/messages",
        headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 9,
            "messages": USER,
            "output_config": {"format": {"type": "xml"}},
        },
    )
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert "output_config.format.type" in response.json()["error"]["message"] and not fake.received


def test_the_header_rides_on_a_streamed_answer(proxy, fake):
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": USER,
        "tools": [WEATHER, ADVISOR],
        "stream": True,
    }
    headers = {"x-api-key": KEY_A, "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27"}
    with httpx.stream("POST", f"{proxy}/v1/messages?beta=true", headers=headers, json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert (
            response.headers["x-proxy-dropped"]
            == "anthropic-beta:context-management-2025-06-27, tools[1]:advisor_20260301"
        )
        assert "x-proxy-dropped" in response.headers.get("access-control-expose-headers", "x-proxy-dropped")
        text = response.read().decode()
    assert "message_stop" in text


def test_the_header_rides_on_an_upstream_failure(proxy, fake):
    fake.reply({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}, status=503)
    fake.reply({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}, status=503)
    response = httpx.post(
        f"{proxy}/v1/messages",
        headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"},
        json={"model": "claude-sonnet-4-5", "max_tokens": 9, "messages": USER, "tools": [ADVISOR]},
    )
    assert response.status_code == 529 and response.json()["error"]["type"] == "overloaded_error"
    assert response.headers["x-proxy-dropped"] == "tools[0]:advisor_20260301"


def test_ai_sdk_generate_object(proxy, fake):
    """The AI SDK's generateObject through @ai-sdk/anthropic gets a schema-valid object."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    if not (JS / "node_modules" / "@ai-sdk" / "anthropic").exists():
        pytest.skip("the AI SDK is not installed; run `npm ci --prefix tests/js`")
    fake.reply(text_response(json.dumps({"city": "Paris", "population": 2102650}), "gemini-2.5-pro"))
    done = subprocess.run(
        ["node", str(JS / "ai_sdk_object.mjs"), proxy, KEY_A], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["object"] == {"city": "Paris", "population": 2102650}
    assert result["request"]["output_config"]["format"]["type"] == "json_schema"
    assert fake.generate_calls[0].json["generationConfig"]["responseMimeType"] == "application/json"


def test_count_tokens_takes_the_same_requests(proxy, fake):
    """Claude Code counts tokens on what it will send: new things are dropped there too."""
    tools = [WEATHER, ADVISOR, {"type": "web_fetch_20260209", "name": "web_fetch"}]
    raw = client(proxy).messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "count these words please"}],
        tools=tools,  # type: ignore[arg-type]
        extra_body={"context_management": {"edits": []}},
    )
    assert raw.parse().input_tokens == 4
    assert (
        raw.headers["x-proxy-dropped"] == "context_management, tools[1]:advisor_20260301, tools[2]:web_fetch_20260209"
    )


CODE_PARTS = [
    {"text": "Let me compute."},
    {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)"}},
    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
    {"text": "It is 42."},
]
CODE_TEXT = "Let me compute.\n```python\nprint(6 * 7)\n```\n\n```output\n42\n```\nIt is 42."


def test_code_execution_runs_on_gemini_and_shows_its_code_and_output(proxy, fake):
    candidate = {"content": {"role": "model", "parts": CODE_PARTS}, "finishReason": "STOP", "index": 0}
    fake.reply({"candidates": [candidate], "modelVersion": "gemini-2.5-flash"})
    message = client(proxy).messages.create(
        model="gemini-2.5-flash",
        max_tokens=256,
        messages=[{"role": "user", "content": "What is 6 times 7? Run code."}],
        tools=[{"type": "code_execution_20250825", "name": "code_execution"}],
    )
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == CODE_TEXT  # type: ignore[union-attr]
    assert fake.generate_calls[0].json["tools"] == [{"codeExecution": {}}]


def test_code_execution_streamed(proxy, fake):
    events = [
        {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}],
            "modelVersion": "gemini-2.5-flash",
        }
        for part in CODE_PARTS
    ]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    fake.reply(events=events)
    with client(proxy).messages.stream(
        model="gemini-2.5-flash",
        max_tokens=256,
        messages=[{"role": "user", "content": "What is 6 times 7? Run code."}],
        tools=[{"type": "code_execution_20250825", "name": "code_execution"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == CODE_TEXT  # type: ignore[union-attr]


def test_the_header_rides_on_a_stream_that_heartbeats_committed_early(start_proxy, fake):
    """Long thinking: the stream commits (and pings) before Gemini answers; what was
    dropped is known by then and is named all the same."""
    url = start_proxy(HEARTBEAT_SECONDS="0.2")
    warm = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": USER}  # the model list read once, before
    assert httpx.post(f"{url}/v1/messages", headers={"x-api-key": KEY_A}, json=warm).status_code == 200
    fake.keys[KEY_A] = "slow"
    fake.slow_seconds = 0.7
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": USER, "tools": [ADVISOR], "stream": True}
    with httpx.stream(
        "POST", f"{url}/v1/messages", headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"}, json=body
    ) as response:
        chunks = response.iter_text()
        first = next(chunks)
        assert first.startswith("event: ping") and not fake.slow_done  # committed before Gemini answered
        assert response.headers["x-proxy-dropped"] == "tools[0]:advisor_20260301"
        assert "message_stop" in "".join(chunks)


# Whatever a client sends in the places where new things appear, the translator answers
# with a Gemini request or a 400, and any header it names is sendable.
KINDS = st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "web_search_20250305", "web_fetch_x"])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | KINDS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.just("type"), inner, max_size=3)
    ),
    max_leaves=12,
)
TYPED = st.fixed_dictionaries({"type": KINDS | st.text(max_size=12)}, optional={"name": VALUES, "source": VALUES})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tools=st.none() | st.lists(TYPED | VALUES, max_size=4),
    content=st.lists(TYPED | VALUES, max_size=4),
    choice=st.none()
    | VALUES
    | st.fixed_dictionaries({"type": KINDS | st.sampled_from(["tool", "any"]), "name": VALUES}),
    thinking=st.none() | VALUES | TYPED,
    output=st.none() | VALUES | st.fixed_dictionaries({"effort": VALUES, "format": VALUES | TYPED}),
    extra=st.dictionaries(st.text(max_size=10), VALUES, max_size=3),
)
def test_new_shapes_never_break_the_translator(tools, content, choice, thinking, output, extra):
    body = {**extra, "messages": [{"role": "user", "content": content}, {"role": "assistant", "content": content}]}
    for name, value in (("tools", tools), ("tool_choice", choice), ("thinking", thinking), ("output_config", output)):
        if value is not None:
            body[name] = value
    try:
        call = translate(**body)
    except BadRequest as exc:
        assert exc.message and exc.status == 400
        return
    (value,) = header(call.dropped).values() or ("",)
    assert value.isascii() and "\n" not in value and "\r" not in value and len(value) < 2000
