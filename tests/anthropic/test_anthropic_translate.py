"""Pure translator tests for the Messages API: request -> Gemini, Gemini -> Message,
the stream's event sequence, and thought signatures through tool_use ids."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handler.anthropic import signatures
from handler.anthropic.request import to_gemini
from handler.anthropic.response import content_blocks, message
from handler.anthropic.stream import PING, MessageStream
from handler.config import Settings
from handler.errors import BadRequest, ProxyError

from ..fake_models import resolved

SETTINGS = Settings.from_env({})
SIG = "CiQBcsjafE4kL9+/mCWQ0h2a5EN0ZXNpZ25hdHVyZS1ieXRlcw=="


def translate(body: dict, settings: Settings = SETTINGS, **kw):
    with resolved():  # Claude names resolve to families, as in a request (legacy list: 2.5)
        return asyncio.run(
            to_gemini({"max_tokens": 100, "model": "claude-sonnet-4-5", "messages": user(), **body}, settings, **kw)
        )


def user(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


# Signatures ----------------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=600))
def test_base64_signatures_survive_the_tool_use_id_byte_for_byte(raw):
    import base64

    signature = base64.b64encode(raw).decode()
    tool_id = signatures.tool_use_id(signature)
    assert all(c.isalnum() or c in "_-" for c in tool_id)
    assert signatures.signature_of(tool_id) == signature


@given(st.text(min_size=1, max_size=200))
def test_any_signature_text_survives(signature):
    assert signatures.signature_of(signatures.tool_use_id(signature)) == signature


def test_ids_without_a_signature():
    tool_id = signatures.tool_use_id(None)
    assert tool_id.startswith("toolu_") and signatures.signature_of(tool_id) is None
    assert signatures.signature_of("toolu_01ABCdef") is None
    assert signatures.signature_of("toolu_gs0123456789abcdefhzz") is None  # not hex: ignored, not a 500
    assert signatures.tool_use_id(None) != signatures.tool_use_id(None)


# Requests ------------------------------------------------------------------------------


def test_model_defaults_and_aliases():
    assert translate({"model": "claude-sonnet-4-5-20250929"}).model == "gemini-2.5-pro"
    assert translate({"model": "claude-haiku-4-5-20251001"}).model == "gemini-2.5-flash"
    assert translate({"model": "claude-3-5-haiku-latest"}).model == "gemini-2.5-flash"
    assert translate({"model": "gemini-3-pro-preview"}).model == "gemini-3-pro-preview"
    assert translate({"model": "gpt-4o"}).model == "gemini-2.5-flash"  # DEFAULT_MODEL
    aliased = Settings.from_env({"MODEL_ALIASES": "claude-opus-*=gemini-3-pro-preview,claude-*=gemini-2.5-flash-lite"})
    assert translate({"model": "claude-opus-4-1"}, aliased).model == "gemini-3-pro-preview"
    assert translate({"model": "claude-haiku-4-5"}, aliased).model == "gemini-2.5-flash-lite"
    call = translate({"model": "claude-sonnet-4-5"})
    assert call.name == "claude-sonnet-4-5"


def test_system_blocks_and_system_messages_join():
    call = translate(
        {
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "Mid-conversation note."},
                {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
                {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": {"type": "ephemeral"}}]},
            ],
            "metadata": {"user_id": "u1"},
            "service_tier": "auto",
        }
    )
    assert call.payload["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Mid-conversation note."}]}
    assert call.payload["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "hello"}]},
        {"role": "user", "parts": [{"text": "more"}]},
    ]
    assert "metadata" not in call.payload and "service_tier" not in call.payload


def test_max_tokens_beyond_gemini_is_gemini_s_most():
    assert translate({"max_tokens": 128000}).payload["generationConfig"]["maxOutputTokens"] == 65536


def test_generation_config():
    call = translate(
        {
            "messages": user(),
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop_sequences": ["END"],
            "max_tokens": 512,
        }
    )
    assert call.payload["generationConfig"] == {
        "maxOutputTokens": 512,
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "stopSequences": ["END"],
    }


@pytest.mark.parametrize(
    ("model", "thinking", "config"),
    [
        (
            "gemini-2.5-flash",
            {"type": "enabled", "budget_tokens": 2048},
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        (
            "gemini-2.5-pro",
            {"type": "enabled", "budget_tokens": 99999},
            {"thinkingBudget": 32768, "includeThoughts": True},
        ),
        ("gemini-2.5-pro", {"type": "disabled"}, {"thinkingBudget": 128}),
        ("gemini-2.5-flash", {"type": "disabled"}, {"thinkingBudget": 0}),
        ("gemini-2.5-flash", {"type": "adaptive"}, {"thinkingBudget": -1, "includeThoughts": True}),
        (
            "gemini-3-pro-preview",
            {"type": "enabled", "budget_tokens": 1024},
            {"thinkingLevel": "low", "includeThoughts": True},
        ),
        (
            "gemini-3-pro-preview",
            {"type": "enabled", "budget_tokens": 31999},
            {"thinkingLevel": "high", "includeThoughts": True},
        ),
        ("gemini-3-pro-preview", {"type": "disabled"}, {"thinkingLevel": "low"}),
        ("gemini-3-pro-preview", {"type": "adaptive"}, {"includeThoughts": True}),
    ],
)
def test_thinking(model, thinking, config):
    call = translate({"model": model, "messages": user(), "thinking": thinking})
    assert call.payload["generationConfig"]["thinkingConfig"] == config


def test_tools_and_tool_choice():
    tools = [
        {
            "name": "Read",
            "description": "Read a file",
            "input_schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"file_path": {"type": "string"}, "limit": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["file_path"],
                "additionalProperties": False,
            },
            "cache_control": {"type": "ephemeral"},
        },
        {"name": "Noop", "input_schema": {"type": "object", "properties": {}}},
    ]
    call = translate(
        {
            "messages": user(),
            "tools": tools,
            "tool_choice": {"type": "tool", "name": "Read", "disable_parallel_tool_use": True},
        }
    )
    (declared,) = call.payload["tools"]
    read, noop = declared["functionDeclarations"]
    assert (
        read["name"] == "Read" and "additionalProperties" not in json.dumps(read) and "$schema" not in json.dumps(read)
    )
    assert noop == {"name": "Noop"}
    assert call.payload["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["Read"]}}
    assert call.single_tool
    for choice, mode in (("auto", "AUTO"), ("any", "ANY"), ("none", "NONE")):
        call = translate({"messages": user(), "tools": tools, "tool_choice": {"type": choice}})
        assert call.payload["toolConfig"] == {"functionCallingConfig": {"mode": mode}} and not call.single_tool


def test_web_search_tool():
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    alone = translate({"messages": user(), "tools": [search]})
    assert alone.payload["tools"] == [{"googleSearch": {}}] and "toolConfig" not in alone.payload
    function = {"name": "f", "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}}
    on_3 = translate({"model": "gemini-3-pro-preview", "messages": user(), "tools": [search, function]})
    assert on_3.payload["tools"][1] == {"googleSearch": {}}
    assert on_3.payload["toolConfig"] == {"includeServerSideToolInvocations": True}
    on_25 = translate({"model": "gemini-2.5-pro", "messages": user(), "tools": [search, function]})
    assert [list(t) for t in on_25.payload["tools"]] == [["functionDeclarations"]]


def test_tool_loop_history():
    signed = signatures.tool_use_id(SIG)
    messages = [
        {"role": "user", "content": "read both"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should read.", "signature": signatures.UNSIGNED},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": signed, "name": "Read", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "[1, 2]"}]},
                {"type": "tool_result", "tool_use_id": signed, "content": "boom", "is_error": True},
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
            ],
        },
    ]
    call = translate({"model": "gemini-3-pro-preview", "messages": messages})
    _, model_turn, results = call.payload["contents"]
    assert model_turn["parts"] == [
        {"text": "I should read.", "thought": True},
        {"text": "Reading."},
        {"functionCall": {"name": "Read", "args": {"path": "a"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "Read", "args": {"path": "b"}}},
    ]
    assert results["parts"] == [  # in the order of the calls (decision 1)
        {"functionResponse": {"name": "Read", "response": {"error": "boom"}}},
        {"functionResponse": {"name": "Read", "response": {"result": [1, 2]}}},
        {"text": "<system-reminder>x</system-reminder>"},
    ]


def test_unsigned_history_on_gemini_3_gets_the_skip_sentinel():
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01X", "name": "Bash", "input": {"command": "ls"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01X", "content": "a.txt"}]},
    ]
    call = translate({"model": "gemini-3-pro-preview", "messages": messages})
    assert call.payload["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    call = translate({"model": "gemini-2.5-pro", "messages": messages})
    assert "thoughtSignature" not in call.payload["contents"][1]["parts"][0]


def test_thinking_signature_goes_back_verbatim():
    messages = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "t", "signature": SIG}, {"type": "text", "text": "a"}],
        },
        {"role": "user", "content": "next"},
    ]
    parts = translate({"model": "gemini-3-pro-preview", "messages": messages}).payload["contents"][1]["parts"]
    assert parts[0] == {"text": "t", "thought": True, "thoughtSignature": SIG}


def test_media_blocks():
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
        {
            "type": "image",
            "source": {"type": "url", "url": "https://generativelanguage.googleapis.com/v1beta/files/abc123"},
        },
        {"type": "image", "source": {"type": "file", "file_id": "files/xyz"}},
        {"type": "text", "text": "describe"},
    ]
    parts = translate({"messages": [{"role": "user", "content": content}]}).payload["contents"][0]["parts"]
    assert parts == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
        {"text": "plain doc"},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123"}},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/xyz"}},
        {"text": "describe"},
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"model": ""}, "model"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}]}
                ]
            },
            "messages.0.content.0.tool_use_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"},
                            }
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.data",
        ),
        ({"messages": user(), "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        (
            {
                "messages": user(),
                "tools": [{"type": "bash_20250124", "name": "bash"}],
                "tool_choice": {"type": "tool", "name": "bash"},
            },
            "tool_choice.name",
        ),
        ({"messages": user(), "output_config": {"format": {"type": "xml"}}}, "output_config.format.type"),
        ({"messages": user(), "output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
        ({"messages": user(), "tool_choice": "auto"}, "tool_choice"),
        ({"messages": [{"role": "system", "content": "only system"}]}, "messages"),
    ],
)
def test_bad_input(body, param):
    with pytest.raises(BadRequest) as caught:
        translate({"messages": user(), **body})
    assert caught.value.param == param


def test_count_tokens_needs_no_max_tokens():
    with resolved():
        call = asyncio.run(to_gemini({"model": "claude-haiku-4-5", "messages": user()}, SETTINGS, counting=True))
    assert "generationConfig" not in call.payload


# Responses -----------------------------------------------------------------------------


def gemini(parts: list[dict], finish: str | None = "STOP", **extra) -> dict:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0, **extra}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "thoughtsTokenCount": 6,
            "cachedContentTokenCount": 3,
        },
        "responseId": "r1",
    }


def test_message_with_thinking_text_and_tools():
    data = gemini(
        [
            {"text": "Let me ", "thought": True},
            {"text": "think.", "thought": True, "thoughtSignature": "T1=="},
            {"text": "Answer."},
            {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": SIG},
            {"functionCall": {"name": "Read", "args": {"file_path": "x"}}},
        ]
    )
    out = json.loads(message(data, "claude-sonnet-4-5", False))
    thinking, text, first, second = out["content"]
    assert thinking == {"type": "thinking", "thinking": "Let me think.", "signature": "T1=="}
    assert text == {"type": "text", "text": "Answer."}
    assert first["type"] == "tool_use" and first["name"] == "Bash" and first["input"] == {"command": "ls"}
    assert signatures.signature_of(first["id"]) == SIG and signatures.signature_of(second["id"]) is None
    assert out["stop_reason"] == "tool_use" and out["model"] == "claude-sonnet-4-5" and out["id"] == "msg_r1"
    assert out["usage"] == {
        "input_tokens": 7,
        "output_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 3,
    }
    single = json.loads(message(data, "m", True))
    assert [b["type"] for b in single["content"]] == ["thinking", "text", "tool_use"]


def test_unsigned_thought_gets_a_placeholder_signature():
    (block,) = content_blocks([{"text": "hmm", "thought": True}], False)
    assert block["signature"] == signatures.UNSIGNED


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("MAX_TOKENS", "max_tokens"), ("SAFETY", "refusal"), ("RECITATION", "refusal"), ("OTHER", "end_turn")],
)
def test_stop_reasons(finish, reason):
    assert json.loads(message(gemini([{"text": "x"}], finish), "m", False))["stop_reason"] == reason


def test_blocked_prompt_is_a_refusal():
    out = json.loads(message({"promptFeedback": {"blockReason": "SAFETY"}}, "m", False))
    assert out["stop_reason"] == "refusal" and "SAFETY" in out["content"][0]["text"]


def test_grounding_becomes_citations():
    grounding = {
        "groundingChunks": [{"web": {"uri": "https://example.com/a", "title": "A"}}],
        "groundingSupports": [{"segment": {"text": "Sky is blue."}, "groundingChunkIndices": [0, 5]}],
    }
    grounding["webSearchQueries"] = ["sky colour"]
    out = json.loads(message(gemini([{"text": "Sky is blue."}], groundingMetadata=grounding), "m", False))
    used, results, text = out["content"]
    assert (
        used["type"] == "server_tool_use" and used["name"] == "web_search" and used["input"] == {"query": "sky colour"}
    )
    assert results["type"] == "web_search_tool_result" and results["tool_use_id"] == used["id"]
    assert results["content"] == [
        {
            "type": "web_search_result",
            "url": "https://example.com/a",
            "title": "A",
            "encrypted_content": "",
            "page_age": None,
        }
    ]
    assert text["citations"] == [
        {
            "type": "web_search_result_location",
            "url": "https://example.com/a",
            "title": "A",
            "encrypted_index": "",
            "cited_text": "Sky is blue.",
        }
    ]


# The stream ----------------------------------------------------------------------------


def events(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for chunk in raw.decode().split("\n\n"):
        if chunk:
            name, data = chunk.split("\n")
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_stream_event_sequence():
    stream = MessageStream("claude-sonnet-4-5", False)
    assert stream.start() == b""
    raw = stream.event(gemini([{"text": "hm", "thought": True}], None))
    raw += stream.event(gemini([{"text": "", "thought": True, "thoughtSignature": "T1=="}, {"text": "Hi"}], None))
    raw += stream.event(
        gemini(
            [{"text": " there"}, {"functionCall": {"name": "Bash", "args": {"command": "ls"}}, "thoughtSignature": SIG}]
        )
    )
    raw += stream.end()
    got = events(raw)
    assert [name for name, _ in got] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in got)
    assert got[0][1]["message"]["usage"]["input_tokens"] == 7 and got[0][1]["message"]["model"] == "claude-sonnet-4-5"
    assert got[2][1]["delta"] == {"type": "thinking_delta", "thinking": "hm"}
    assert got[3][1]["delta"] == {"type": "signature_delta", "signature": "T1=="}
    assert [got[i][1]["delta"]["text"] for i in (6, 7)] == ["Hi", " there"]
    tool = got[9][1]["content_block"]
    assert tool["type"] == "tool_use" and tool["input"] == {} and signatures.signature_of(tool["id"]) == SIG
    assert json.loads(got[10][1]["delta"]["partial_json"]) == {"command": "ls"}
    assert [got[i][1]["index"] for i in (1, 5, 9)] == [0, 1, 2]
    assert got[12][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert got[12][1]["usage"]["output_tokens"] == 10


def test_empty_stream_still_has_the_whole_sequence_and_errors_are_anthropic():
    stream = MessageStream("m", False)
    assert [name for name, _ in events(stream.end())] == ["message_start", "message_delta", "message_stop"]
    ((name, data),) = events(MessageStream("m", False).error(ProxyError("overloaded", status=503)))
    assert name == "error" and data == {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}
    assert PING == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_streamed_grounding():
    grounding = {
        "webSearchQueries": ["q1"],
        "groundingChunks": [{"web": {"uri": "https://example.com/a", "title": "A"}}],
        "groundingSupports": [{"segment": {"text": "Yes."}, "groundingChunkIndices": [0]}],
    }
    stream = MessageStream("m", False)
    raw = stream.event(gemini([{"text": "Yes."}], None))
    raw += stream.event(gemini([], "STOP", groundingMetadata=grounding))
    raw += stream.end()
    got = events(raw)
    assert [name for name, _ in got][1:] == [
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert (
        got[3][1]["delta"]["type"] == "citations_delta"
        and got[3][1]["delta"]["citation"]["url"] == "https://example.com/a"
    )
    assert got[5][1]["content_block"]["type"] == "server_tool_use" and json.loads(
        got[6][1]["delta"]["partial_json"]
    ) == {"query": "q1"}
    assert got[8][1]["content_block"]["content"][0]["url"] == "https://example.com/a" and got[8][1]["index"] == 2
    assert got[-2][1]["delta"]["stop_reason"] == "end_turn"
