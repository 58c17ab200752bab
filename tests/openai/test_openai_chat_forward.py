"""Forward compatibility on the chat completions route (docs/forward-compatibility.md):
what a current client sends and this proxy cannot map is a 200 whose `x-proxy-dropped`
names it, through the real `openai` SDK; a `tool_choice` that requires a dropped tool
is a clear 400 with nothing sent upstream."""

from __future__ import annotations

import httpx
import openai
import pytest

from ..clients import openai_v1 as client
from ..conftest import KEY_A
from .test_openai_chat import PNG, USER, sent

FUNCTION = {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
CUSTOM = {"type": "custom", "custom": {"name": "apply_patch", "format": {"type": "text"}}}


def create(proxy: str, **body):
    return client(proxy).chat.completions.with_raw_response.create(model=body.pop("model", "gemini-2.5-flash"), **body)


def test_new_user_parts_are_dropped_and_named_the_rest_is_sent(proxy, fake):
    answer = create(
        proxy,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What happens in the video?"},
                    {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}},
                    {"type": "file", "file": {"file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}},  # stored at OpenAI
                    {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}},
                ],
            }
        ],
    )
    assert answer.status_code == 200
    assert answer.headers["x-proxy-dropped"] == "messages[0].content[1]:video_url, messages[0].content[2]:file"
    assert sent(fake)["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What happens in the video?"},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            ],
        }
    ]


def test_other_content_in_system_and_assistant_messages_is_dropped_and_named(proxy, fake):
    answer = create(
        proxy,
        messages=[
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Be brief."},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello."}, {"type": "audio", "id": "a1"}]},
            {"role": "user", "content": "again"},
        ],
    )
    assert answer.headers["x-proxy-dropped"] == "messages[0].content[1]:image_url, messages[2].content[1]:audio"
    payload = sent(fake)
    assert payload["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert payload["contents"][1] == {"role": "model", "parts": [{"text": "Hello."}]}


def test_new_tool_types_are_dropped_web_search_is_google_search(proxy, fake):
    answer = create(
        proxy,
        messages=USER,
        tools=[FUNCTION, CUSTOM, {"type": "web_search_preview"}, {"type": "mcp", "server_label": "docs"}],
        tool_choice="auto",
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "tools[1]:custom, tools[3]:mcp"
    tools = sent(fake)["tools"]
    assert [list(tool) for tool in tools] == [["functionDeclarations"], ["googleSearch"]]
    assert [d["name"] for d in tools[0]["functionDeclarations"]] == ["read_file"]


def test_nothing_dropped_means_no_header(proxy, fake):
    answer = create(proxy, messages=USER, tools=[FUNCTION])
    assert answer.status_code == 200 and "x-proxy-dropped" not in answer.headers


@pytest.mark.parametrize(
    "choice, words",
    [
        ({"type": "custom", "custom": {"name": "apply_patch"}}, "apply_patch"),
        ({"type": "function", "function": {"name": "apply_patch"}}, "apply_patch"),
        ("required", "custom"),  # every tool was dropped: no call can come
    ],
    ids=["custom choice", "function choice naming it", "required"],
)
def test_a_choice_that_requires_a_dropped_tool_is_a_400(proxy, fake, choice, words):
    second = {"type": "custom", "custom": {"name": "run_sql"}}  # two dropped tools of one type
    tools = [CUSTOM, second] if choice == "required" else [FUNCTION, CUSTOM, second]
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, tools=tools, tool_choice=choice)
    assert caught.value.body["param"] == "tool_choice" and words in caught.value.message
    assert "dropped" in caught.value.message
    assert fake.received == []


def test_a_new_tool_choice_value_is_dropped_and_named(proxy, fake):
    r = httpx.post(
        proxy + "/v1/chat/completions",
        json={"model": "gemini-2.5-flash", "messages": USER, "tools": [FUNCTION], "tool_choice": "validated"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.headers["x-proxy-dropped"] == "tool_choice:validated"
    assert "toolConfig" not in sent(fake)


def test_allowed_tools_required_forces_one_of_them_auto_is_named(proxy, fake):
    second = {"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [second]}}
    answer = create(proxy, messages=USER, tools=[FUNCTION, second], tool_choice=allowed)
    assert answer.status_code == 200 and "x-proxy-dropped" not in answer.headers
    assert sent(fake)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["list_dir"]}}
    fake.received.clear()
    allowed["allowed_tools"]["mode"] = "auto"
    answer = create(proxy, messages=USER, tools=[FUNCTION, second], tool_choice=allowed)
    assert answer.headers["x-proxy-dropped"] == "tool_choice.allowed_tools:auto"
    assert "toolConfig" not in sent(fake)


def test_a_new_reasoning_effort_is_dropped_and_named_on_chat_and_responses(proxy, fake):
    answer = create(proxy, model="gemini-3-flash-preview", messages=USER, reasoning_effort="ultra")
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning_effort:ultra"
    assert "thinkingConfig" not in sent(fake).get("generationConfig", {})
    fake.received.clear()
    answer = client(proxy).responses.with_raw_response.create(
        model="gemini-3-flash-preview", input="hi", reasoning={"effort": "ultra"}
    )
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "reasoning.effort:ultra"
    assert "thinkingConfig" not in sent(fake).get("generationConfig", {})


def test_a_streamed_answer_names_what_was_dropped(proxy, fake):
    with client(proxy).chat.completions.with_streaming_response.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "input_video", "id": "v"}]}],
        tools=[FUNCTION, CUSTOM],
        stream=True,
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-proxy-dropped"] == "messages[0].content[1]:input_video, tools[1]:custom"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    assert text  # the fake's streamed answer
    assert sent(fake)["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_a_prompt_with_nothing_left_to_send_is_a_clear_400(proxy, fake):
    r = httpx.post(
        proxy + "/v1/chat/completions",
        json={
            "model": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}]}],
        },
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "messages" and "messages[0].content[0]:video_url" in error["message"]
    assert fake.received == []
