"""Pure unit tests of the Responses translators (no HTTP): request items -> Gemini,
Gemini -> items and events, thought signatures both ways."""

from __future__ import annotations

import asyncio
import json

import pytest

from handler.config import Settings
from handler.errors import BadRequest, ProxyError
from handler.responses import signatures
from handler.responses.request import to_gemini
from handler.responses.stream import ResponseStream
from handler.translate.thinking import SKIP_SIGNATURE

SETTINGS = Settings.from_env({})
SIG = "CiQBjz1rX+/sig==A"  # any text: signatures are opaque and must come back unchanged


def translate(**body):
    return asyncio.run(to_gemini({"model": "gemini-2.5-flash", **body}, SETTINGS))


def refused(**body) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        translate(**body)
    return caught.value


def events(raw: bytes) -> list[dict]:
    """The data of each SSE event, with its event name checked against its type."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        out.append(payload)
    return out


def gemini(parts, finish="STOP", **extra):
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0, **extra}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 3},
    }


# Requests ------------------------------------------------------------------------------


def test_string_input_instructions_and_system_messages():
    call = translate(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Use English."},
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
            {"role": "system", "content": [{"type": "input_text", "text": "Stay polite."}]},
            {"role": "user", "content": "how are you"},
        ],
        max_output_tokens=50,
        temperature=0.2,
        top_p=0.9,
    )
    assert call.payload["systemInstruction"] == {
        "parts": [{"text": "Be brief."}, {"text": "Use English."}, {"text": "Stay polite."}]
    }
    assert call.payload["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "how are you"}]},
    ]
    assert call.payload["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9}
    assert translate(input="hi").payload["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_tool_results_follow_the_order_of_the_calls():
    call = translate(
        input=[
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "a", "name": "weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call", "call_id": "b", "name": "weather", "arguments": "not json"},
            {"type": "function_call_output", "call_id": "b", "output": "rainy"},
            {"type": "function_call_output", "call_id": "a", "output": '{"sky":"clear"}'},
        ],
        tools=[
            {
                "type": "function",
                "name": "weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "additionalProperties": False,
                },
                "strict": True,
            }
        ],
    )
    model, results = call.payload["contents"][1:]
    assert model == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "weather", "args": {"arguments": "not json"}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "weather", "response": {"sky": "clear"}}},
            {"functionResponse": {"name": "weather", "response": {"result": "rainy"}}},
        ],
    }
    assert call.payload["tools"] == [
        {
            "functionDeclarations": [
                {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
            ]
        }
    ]


def test_signatures_come_back_from_call_ids_and_encrypted_content():
    call_id = signatures.new_call_id(SIG)
    call = asyncio.run(
        to_gemini(
            {
                "model": "gemini-3-pro-preview",
                "input": [
                    {"role": "user", "content": "go"},
                    {
                        "type": "reasoning",
                        "id": "rs_1",
                        "summary": [{"type": "summary_text", "text": "thinking"}],
                        "encrypted_content": signatures.encrypted("T" + SIG),
                    },
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "Let me look."}],
                    },
                    {"type": "function_call", "call_id": call_id, "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": call_id, "output": "42"},
                ],
            },
            SETTINGS,
        )
    )
    assert call.payload["contents"][1]["parts"] == [
        {"text": "", "thoughtSignature": "T" + SIG},
        {"text": "Let me look."},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": SIG},
    ]
    assert call.payload["contents"][2]["parts"] == [{"functionResponse": {"name": "f", "response": {"result": 42}}}]


def test_foreign_encrypted_content_is_not_a_signature_and_gemini_3_calls_get_the_skip_sentinel():
    call = asyncio.run(
        to_gemini(
            {
                "model": "gemini-3-pro-preview",
                "input": [
                    {"role": "user", "content": "go"},
                    {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABopenai-encrypted"},
                    {"type": "function_call", "call_id": "call_openai1", "name": "f", "arguments": "{}"},
                    {"type": "function_call", "call_id": "call_openai2", "name": "g", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_openai1", "output": "1"},
                    {"type": "function_call_output", "call_id": "call_openai2", "output": "2"},
                ],
            },
            SETTINGS,
        )
    )
    assert call.payload["contents"][1]["parts"] == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": SKIP_SIGNATURE},
        {"functionCall": {"name": "g", "args": {}}},
    ]


def test_codex_tools_custom_local_shell_namespace_and_web_search():
    tools = [
        {
            "type": "function",
            "name": "exec_command",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        },
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Patch files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: line+"},
        },
        {"type": "local_shell"},
        {
            "type": "namespace",
            "name": "agents",
            "description": "d",
            "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}],
        },
        {"type": "web_search", "external_web_access": False},
    ]
    call = translate(
        input=[
            {"role": "user", "content": "fix it"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
            {
                "type": "local_shell_call",
                "call_id": "c2",
                "status": "completed",
                "action": {"type": "exec", "command": ["ls", "-l"], "working_directory": "/w"},
            },
            {"type": "function_call", "call_id": "c3", "name": "spawn", "namespace": "agents", "arguments": "{}"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done!"},
            {"type": "local_shell_call_output", "call_id": "c2", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "c3", "output": [{"type": "input_text", "text": "ok"}]},
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "x"},
            },
        ],
        tools=tools,
        tool_choice="auto",
    )
    declarations = call.payload["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["exec_command", "apply_patch", "shell", "agents__spawn"]
    assert declarations[1]["parameters"]["properties"]["input"]["type"] == "string"
    assert "start: line+" in declarations[1]["description"]
    assert declarations[2]["parameters"]["properties"]["command"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "The command and its arguments.",
    }
    assert "parameters" not in declarations[3]
    # Gemini 2.5 cannot combine Google Search with functions: left out, not a 400.
    assert call.payload["tools"] == [{"functionDeclarations": declarations}]
    assert call.payload["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert call.payload["contents"][1]["parts"] == [
        {"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}},
        {"functionCall": {"name": "shell", "args": {"command": ["ls", "-l"], "workdir": "/w"}}},
        {"functionCall": {"name": "agents__spawn", "args": {}}},
    ]
    assert [p["functionResponse"]["response"] for p in call.payload["contents"][2]["parts"]] == [
        {"result": "Done!"},
        {"result": "a.txt"},
        {"result": "ok"},
    ]
    search_only = translate(input="news?", tools=[{"type": "web_search_preview"}])
    assert search_only.payload["tools"] == [{"googleSearch": {}}]
    gemini3 = asyncio.run(to_gemini({"model": "gemini-3-pro-preview", "input": "x", "tools": tools}, SETTINGS))
    assert gemini3.payload["tools"][-1] == {"googleSearch": {}}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ({"type": "function", "name": "f"}, {"mode": "ANY", "allowedFunctionNames": ["f"]}),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]},
            {"mode": "AUTO", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice(choice, config):
    call = translate(input="x", tools=[{"type": "function", "name": "f"}], tool_choice=choice)
    assert call.payload["toolConfig"] == {"functionCallingConfig": config}


def test_text_format_and_reasoning():
    call = translate(
        input="x",
        text={
            "format": {
                "type": "json_schema",
                "name": "P",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
                    "required": ["name", "age"],
                    "additionalProperties": False,
                },
            }
        },
        reasoning={"effort": "low", "summary": "auto"},
    )
    config = call.payload["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "nullable": True}},
        "required": ["name", "age"],
    }
    assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    level = asyncio.run(
        to_gemini({"model": "gemini-3-pro-preview", "input": "x", "reasoning": {"effort": "medium"}}, SETTINGS)
    )
    assert level.payload["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high", "includeThoughts": True}
    summary_only = translate(input="x", reasoning={"summary": "detailed"})
    assert summary_only.payload["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}
    assert translate(input="x", text={"format": {"type": "json_object"}}).payload["generationConfig"] == {
        "responseMimeType": "application/json"
    }


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({}, "input", "input is required"),
        ({"input": []}, "input", "input is required"),
        ({"input": "x", "previous_response_id": "resp_1"}, "previous_response_id", "send the whole conversation"),
        ({"input": "x", "conversation": "conv_1"}, "conversation", "stateless"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "send the item itself"),
        ({"input": [{"call_id": "x", "output": "1"}]}, "input[0].type", "type is required"),
        (
            {
                "input": [
                    {"role": "user", "content": "x"},
                    {"type": "function_call_output", "call_id": "nope", "output": "1"},
                ]
            },
            "input[1].call_id",
            "matches no call",
        ),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_file", "file_data": "not base64!", "filename": "a.pdf"}],
                    }
                ]
            },
            "input[0].content[0].file_data",
            "base64",
        ),
        (
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,@@"}]}
                ]
            },
            "input[0].content[0].image_url",
            "base64",
        ),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "'tool'"),
        (
            {
                "input": "x",
                "tools": [{"type": "function", "name": "f"}],
                "tool_choice": {"type": "function", "name": "g"},
            },
            "tool_choice",
            "not in tools",
        ),
        ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format", "json_schema"),
        ({"input": "x", "reasoning": {"effort": 3}}, "reasoning.effort", "low"),  # a new value is dropped
    ],
)
def test_bad_input_is_a_400_naming_the_field(body, param, words):
    error = refused(**body)
    assert error.param == param and words in error.message


# Answers -------------------------------------------------------------------------------


def test_one_answer_becomes_reasoning_message_and_calls_with_signatures():
    call = translate(
        input="x",
        include=["reasoning.encrypted_content"],
        tools=[{"type": "function", "name": "f"}, {"type": "custom", "name": "patch"}],
    )
    data = gemini(
        [
            {"text": "Let me think.", "thought": True, "thoughtSignature": "TS"},
            {"text": "Here goes."},
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG},
            {"functionCall": {"name": "patch", "args": {"input": "*** Begin"}}},
        ]
    )
    response = ResponseStream(call, emit=False).whole(data)
    reasoning, message, fcall, custom = response["output"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == [
        {"type": "summary_text", "text": "Let me think."}
    ]
    assert reasoning["encrypted_content"] == signatures.encrypted("TS")
    assert message["content"][0]["text"] == "Here goes." and message["status"] == "completed"
    assert fcall["type"] == "function_call" and fcall["name"] == "f" and json.loads(fcall["arguments"]) == {"a": 1}
    assert signatures.of_call_id(fcall["call_id"]) == SIG
    assert (
        custom["type"] == "custom_tool_call"
        and custom["input"] == "*** Begin"
        and signatures.of_call_id(custom["call_id"]) is None
    )
    assert response["status"] == "completed" and response["incomplete_details"] is None
    assert response["usage"] == {
        "input_tokens": 4,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 9,
    }


def test_signed_text_gets_a_reasoning_item_only_when_asked():
    data = gemini([{"text": "Hi", "thoughtSignature": SIG}])
    asked = ResponseStream(translate(input="x", include=["reasoning.encrypted_content"]), emit=False).whole(data)
    assert [i["type"] for i in asked["output"]] == ["message", "reasoning"]
    assert asked["output"][1]["encrypted_content"] == signatures.encrypted(SIG)
    plain = ResponseStream(translate(input="x"), emit=False).whole(data)
    assert [i["type"] for i in plain["output"]] == ["message"]


def test_local_shell_call_and_parallel_false():
    call = translate(input="x", tools=[{"type": "local_shell"}], parallel_tool_calls=False)
    data = gemini(
        [
            {"functionCall": {"name": "shell", "args": {"command": ["ls"], "workdir": "/tmp"}}},
            {"functionCall": {"name": "shell", "args": {"command": ["pwd"]}}},
        ]
    )
    (item,) = ResponseStream(call, emit=False).whole(data)["output"]
    assert item["type"] == "local_shell_call"
    assert item["action"] == {
        "type": "exec",
        "command": ["ls"],
        "env": {},
        "timeout_ms": None,
        "user": None,
        "working_directory": "/tmp",
    }


def test_incomplete_and_blocked():
    stream = ResponseStream(translate(input="x"), emit=False)
    response = stream.whole(gemini([{"text": "cut"}], finish="MAX_TOKENS"))
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": "max_output_tokens"}
    blocked = ResponseStream(translate(input="x"), emit=False).whole({"promptFeedback": {"blockReason": "SAFETY"}})
    assert blocked["status"] == "incomplete" and blocked["incomplete_details"] == {"reason": "content_filter"}
    assert "blockReason: SAFETY" in blocked["output"][0]["content"][0]["text"]


def test_url_citations_count_characters_not_bytes():
    text = "Café prices rose. Tea too."
    grounding = {
        "groundingChunks": [
            {"web": {"uri": "https://a.example/1", "title": "A"}},
            {"web": {"uri": "https://b.example/2", "title": "B"}},
        ],
        "groundingSupports": [
            {
                "segment": {"startIndex": 0, "endIndex": len("Café prices rose.".encode())},
                "groundingChunkIndices": [0, 1],
            }
        ],
    }
    response = ResponseStream(translate(input="x"), emit=False).whole(
        gemini([{"text": text}], groundingMetadata=grounding)
    )
    first, second = response["output"][0]["content"][0]["annotations"]
    assert first == {
        "type": "url_citation",
        "start_index": 0,
        "end_index": 17,
        "url": "https://a.example/1",
        "title": "A",
    }
    assert second["url"] == "https://b.example/2"


def test_stream_events_in_order_with_increasing_sequence_numbers():
    stream = ResponseStream(translate(input="x", tools=[{"type": "function", "name": "f"}]))
    raw = stream.start()
    raw += stream.event(gemini([{"text": "Hmm", "thought": True}], finish=None))
    raw += stream.event(gemini([{"text": "A"}], finish=None))
    raw += stream.event(gemini([{"text": "B"}, {"functionCall": {"name": "f", "args": {}}}]))
    raw += stream.end()
    seen = events(raw)
    assert [e["sequence_number"] for e in seen] == list(range(len(seen)))
    assert [e["type"] for e in seen] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert seen[0]["response"]["status"] == "in_progress" and seen[0]["response"]["output"] == []
    assert [e["output_index"] for e in seen if e["type"] == "response.output_item.added"] == [0, 1, 2]
    final = seen[-1]["response"]
    assert final["id"] == seen[0]["response"]["id"] and final["status"] == "completed"
    assert final["output"][1]["content"][0]["text"] == "AB"
    assert [e["delta"] for e in seen if e["type"] == "response.output_text.delta"] == ["A", "B"]


def test_stream_failure_after_the_commit():
    stream = ResponseStream(translate(input="x"))
    raw = (
        stream.start()
        + stream.event(gemini([{"text": "par"}], finish=None))
        + stream.error(ProxyError("overloaded", status=503))
    )
    seen = events(raw)
    assert [e["type"] for e in seen[-5:]] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
    ]
    assert seen[-2]["code"] == "server_error" and seen[-2]["message"] == "overloaded"
    assert seen[-1]["response"]["status"] == "failed" and seen[-1]["response"]["error"] == {
        "code": "server_error",
        "message": "overloaded",
    }
    assert [e["sequence_number"] for e in seen] == list(range(len(seen)))


def test_a_function_named_shell_clashes_with_local_shell():
    error = refused(input="x", tools=[{"type": "function", "name": "shell"}, {"type": "local_shell"}])
    assert error.param == "tools[1]" and "'shell'" in error.message


def test_streamed_custom_tool_call_events():
    stream = ResponseStream(translate(input="x", tools=[{"type": "custom", "name": "apply_patch"}]))
    raw = (
        stream.start()
        + stream.event(gemini([{"functionCall": {"name": "apply_patch", "args": {"input": "*** Begin Patch"}}}]))
        + stream.end()
    )
    seen = events(raw)
    assert [e["type"] for e in seen[2:]] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert seen[2]["item"]["input"] == "" and seen[2]["item"]["status"] == "in_progress"
    assert seen[4]["input"] == "*** Begin Patch" and seen[5]["item"]["status"] == "completed"
    assert seen[-1]["response"]["output"][0]["type"] == "custom_tool_call"


def test_a_text_signature_stays_with_the_text_after_thoughts():
    call = translate(input="x", include=["reasoning.encrypted_content"])
    response = ResponseStream(call, emit=False).whole(
        gemini([{"text": "Hmm", "thought": True}, {"text": "Hi", "thoughtSignature": SIG}])
    )
    thought, message, signed = response["output"]
    # Asked for, encrypted_content is always a string; this one carries no signature.
    assert thought["encrypted_content"] == signatures.encrypted("") and message["content"][0]["text"] == "Hi"
    assert signatures.of_encrypted(thought["encrypted_content"]) is None
    assert signed["type"] == "reasoning" and signed["encrypted_content"] == signatures.encrypted(SIG)
