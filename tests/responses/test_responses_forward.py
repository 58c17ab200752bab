"""Forward compatibility on the Responses route: what a client release adds (a tool type,
an input item type, a content part, a top-level field) is never a 400 by itself; it is
mapped where Gemini has an equivalent, else dropped and named in `x-proxy-dropped`."""

from __future__ import annotations

import httpx
import pytest

from handler.errors import BadRequest
from handler.translate.dropped import header as dropped_header

from ..clients import openai_v1
from ..conftest import KEY_A
from .test_responses_translate import gemini, refused, translate

FUNCTION = {"type": "function", "name": "read_file", "parameters": {"type": "object", "properties": {}}}


def post(proxy: str, body: dict) -> httpx.Response:
    return httpx.post(
        proxy + "/v1/responses",
        json={"model": "gemini-2.5-flash", **body},
        headers={"authorization": f"Bearer {KEY_A}"},
        timeout=10,
    )


# Tools -----------------------------------------------------------------------------------


def test_unknown_and_unmappable_tools_are_dropped_and_named():
    call = translate(
        input="x",
        tools=[
            FUNCTION,
            {"type": "tool_search", "execution": "client"},
            {"type": "mcp", "server_label": "deepwiki", "server_url": "https://example.org/mcp"},
            {"type": "namespace", "name": "ns", "tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
            {"type": "advisor_20990101"},
        ],
    )
    assert call.dropped == [
        "tools[1]:tool_search",
        "tools[2]:mcp",
        "tools[3].tools[0]:file_search",
        "tools[4]:advisor_20990101",
    ]
    assert [d["name"] for d in call.payload["tools"][0]["functionDeclarations"]] == ["read_file"]
    assert len(call.payload["tools"]) == 1


def test_web_search_options_and_code_interpreter_map_to_gemini_tools():
    call = translate(
        model="gemini-3-pro-preview",
        input="x",
        tools=[
            FUNCTION,
            {
                "type": "web_search",
                "search_content_types": ["text", "image"],
                "filters": {"allowed_domains": ["example.org"]},
                "user_location": {"type": "approximate", "country": "FR"},
                "search_context_size": "high",
                "external_web_access": True,
            },
            {"type": "code_interpreter", "container": {"type": "auto"}},
        ],
    )
    assert call.payload["tools"][1:] == [{"googleSearch": {}}, {"codeExecution": {}}]
    assert call.dropped == []


def test_before_gemini_3_built_in_tools_beside_functions_are_dropped_and_named():
    call = translate(input="x", tools=[FUNCTION, {"type": "web_search"}, {"type": "code_interpreter"}])
    assert [list(t) for t in call.payload["tools"]] == [["functionDeclarations"]]
    assert call.dropped == ["tools[1]:web_search", "tools[2]:code_interpreter"]
    alone = translate(input="x", tools=[{"type": "code_interpreter"}])
    assert alone.payload["tools"] == [{"codeExecution": {}}] and alone.dropped == []


def test_shell_and_apply_patch_built_in_tools_map_to_functions_and_come_back_as_their_items():
    from handler.responses.stream import ResponseStream

    call = translate(input="x", tools=[{"type": "shell"}, {"type": "apply_patch"}, {"type": "local_shell"}])
    names = [d["name"] for d in call.payload["tools"][0]["functionDeclarations"]]
    assert names == ["shell", "apply_patch"] and call.dropped == ["tools[2]:shell"]
    answer = ResponseStream(call, emit=False).whole(
        gemini(
            [
                {"functionCall": {"name": "shell", "args": {"commands": ["ls -la"], "timeout_ms": 1000}}},
                {
                    "functionCall": {
                        "name": "apply_patch",
                        "args": {"type": "create_file", "path": "a.txt", "diff": "+hi"},
                    }
                },
            ]
        )
    )
    shell, patch = answer["output"]
    assert shell["type"] == "shell_call" and shell["action"]["commands"] == ["ls -la"]
    assert patch["type"] == "apply_patch_call"
    assert patch["operation"] == {"type": "create_file", "path": "a.txt", "diff": "+hi"}


def test_a_required_tool_choice_naming_a_dropped_tool_is_a_clear_400():
    for choice in ({"type": "file_search"}, {"type": "mcp", "server_label": "deepwiki"}):
        error = refused(input="x", tools=[FUNCTION, {"type": choice["type"]}], tool_choice=choice)
        assert error.param == "tool_choice" and "dropped" in error.message
    error = refused(input="x", tools=[{"type": "file_search"}], tool_choice={"type": "file_search"})
    assert "dropped" in error.message
    required = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "file_search"}]}
    assert "dropped" in refused(input="x", tools=[FUNCTION, {"type": "file_search"}], tool_choice=required).message
    # Offered, not required: the dropped tool is left out of the allowed list.
    auto = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "file_search"}, {"type": "function", "name": "read_file"}],
    }
    call = translate(input="x", tools=[FUNCTION, {"type": "file_search"}], tool_choice=auto)
    assert call.payload["toolConfig"]["functionCallingConfig"] == {
        "mode": "AUTO",
        "allowedFunctionNames": ["read_file"],
    }
    with pytest.raises(BadRequest):  # a choice that names no tool at all is still wrong
        translate(input="x", tools=[FUNCTION], tool_choice={"type": "image_generation"})


# Items -----------------------------------------------------------------------------------


def test_unknown_items_and_content_parts_are_dropped_and_named():
    call = translate(
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}, {"type": "input_video", "url": "x"}],
            },
            {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "deepwiki", "tools": []},
            {"type": "tool_search_call", "call_id": "ts_1", "arguments": {"query": "files"}, "execution": "client"},
            {"type": "tool_search_output", "call_id": "ts_1", "tools": []},
            {"type": "compaction", "encrypted_content": "gAAAAABopenai-made-this"},
            {"type": "context_compaction_20991231", "whatever": True},
            {"type": "message", "role": "user", "content": "go on"},
        ]
    )
    assert call.dropped == [
        "input[0].content[1]:input_video",
        "input[1]:mcp_list_tools",
        "input[2]:tool_search_call",
        "input[3]:tool_search_output",
        "input[4]:compaction",
        "input[5]:context_compaction_20991231",
    ]
    assert call.payload["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "user", "parts": [{"text": "go on"}]},
    ]


def test_shell_and_apply_patch_history_items_become_calls_and_responses():
    call = translate(
        tools=[{"type": "shell"}, {"type": "apply_patch"}],
        input=[
            {"role": "user", "content": "fix it"},
            {
                "type": "shell_call",
                "call_id": "call_s",
                "action": {"commands": ["cat a.py"], "timeout_ms": 500},
                "status": "completed",
            },
            {
                "type": "apply_patch_call",
                "call_id": "call_p",
                "operation": {"type": "update_file", "path": "a.py", "diff": "-a\n+b"},
                "status": "completed",
            },
            {
                "type": "shell_call_output",
                "call_id": "call_s",
                "output": [{"stdout": "a", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
            },
            {"type": "apply_patch_call_output", "call_id": "call_p", "status": "completed", "output": "Done"},
        ],
    )
    model, results = call.payload["contents"][1:]
    assert [p["functionCall"] for p in model["parts"]] == [
        {"name": "shell", "args": {"commands": ["cat a.py"], "timeout_ms": 500}},
        {"name": "apply_patch", "args": {"type": "update_file", "path": "a.py", "diff": "-a\n+b"}},
    ]
    assert [p["functionResponse"] for p in results["parts"]] == [
        {
            "name": "shell",
            "response": {"output": [{"stdout": "a", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]},
        },
        {"name": "apply_patch", "response": {"status": "completed", "output": "Done"}},
    ]
    assert call.dropped == []


def test_codex_fields_are_ignored():
    call = translate(
        input="x",
        client_metadata={"x-codex-window-id": "w"},
        prompt_cache_retention="24h",
        service_tier="priority",
        safety_identifier="user-1",
        prompt_cache_key="session-1",
        brand_new_field_of_2027={"x": 1},
    )
    assert set(call.payload) == {"contents", "safetySettings"} and call.dropped == []


def test_the_header_helper():
    assert dropped_header([]) == {}
    assert dropped_header(["tools[1]:x", "input[2]:y"]) == {"x-proxy-dropped": "tools[1]:x, input[2]:y"}
    many = dropped_header([f"input[{i}]:mcp_call" for i in range(30)])["x-proxy-dropped"]
    assert many.count("mcp_call") == 20 and many.endswith("+10-more")
    evil = translate(input=[{"type": "x\r\nset-cookie: a=b", "id": 1}, {"role": "user", "content": "hi"}])
    assert evil.dropped == ["input[0]:x__set-cookie__a_b"]  # no CR, LF, space or '=' reaches a header


# Over HTTP -------------------------------------------------------------------------------


def test_dropped_names_come_back_in_the_header_streamed_and_whole(proxy, fake):
    body = {
        "input": [{"type": "mcp_list_tools", "server_label": "s", "tools": []}, {"role": "user", "content": "hi"}],
        "tools": [FUNCTION, {"type": "tool_search"}],
    }
    whole = post(proxy, body)
    assert (
        whole.status_code == 200 and whole.headers["x-proxy-dropped"] == "input[0]:mcp_list_tools, tools[1]:tool_search"
    )
    streamed = post(proxy, {**body, "stream": True})
    assert streamed.status_code == 200 and streamed.headers["x-proxy-dropped"] == whole.headers["x-proxy-dropped"]
    assert "response.completed" in streamed.text
    plain = post(proxy, {"input": "hi"})
    assert "x-proxy-dropped" not in plain.headers
    assert len(fake.generate_calls) == 3


def test_reasoning_items_always_carry_encrypted_content_when_asked(proxy, fake):
    """The signature rode on the function call: the reasoning item still has its string."""
    fake.reply(
        gemini(
            [
                {"text": "Let me look.", "thought": True},
                {"functionCall": {"name": "read_file", "args": {}}, "thoughtSignature": "SIG=="},
            ]
        )
    )
    r = openai_v1(proxy).responses.create(
        model="gemini-2.5-flash",
        input="x",
        tools=[FUNCTION],
        include=["reasoning.encrypted_content"],
        reasoning={"summary": "auto"},
    )
    reasoning, call = r.output
    assert reasoning.type == "reasoning" and isinstance(reasoning.encrypted_content, str)
    assert call.type == "function_call" and call.call_id.endswith("~SIG==")
