"""The Messages API over real HTTP with the real `anthropic` SDK (sync and async),
non-streamed: what the client got and what Gemini received, the Gemini 3 tool loop with
its signatures byte for byte, count_tokens, and errors in Anthropic's shape."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import pytest

from handler.anthropic import signatures

from ..clients import anthropic_client as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, text_response, usage

USER = [{"role": "user", "content": "hi"}]
SIG = "CiQBcsjafE4kL9+/mCWQ0h2a5EN0ZXNpZ25hdHVyZS1ieXRlcw=="
THOUGHT_SIG = "EpQBCpEBAdHtim9+hello/world+=="
READ_TOOL = {
    "name": "Read",
    "description": "Reads a file from the local filesystem.",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "The absolute path"},
            "offset": {"type": "number", "exclusiveMinimum": 0},
            "mode": {"type": "string", "const": "text"},
        },
        "required": ["file_path"],
        "additionalProperties": False,
    },
}


def answer(parts: list[dict], finish: str = "STOP", model: str = "gemini-3-pro-preview") -> dict:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": usage(thoughts=4),
        "modelVersion": model,
        "responseId": "resp-1",
    }


def test_plain_message(proxy, fake):
    raw = client(proxy).messages.with_raw_response.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=256,
        system="Be brief.",
        messages=USER,
        metadata={"user_id": "u-1"},
        extra_body={"temperature": 0.5},
    )
    message = raw.parse()
    assert message.content[0].text == "echo: hi" and message.model == "claude-sonnet-4-5-20250929"
    assert message.stop_reason == "end_turn" and message.id == "msg_fake-response-id"
    assert message.usage.input_tokens == 5 and message.usage.output_tokens == 3
    assert raw.headers["x-proxy-model"] == "gemini-2.5-pro" and raw.headers["x-proxy-key"] == "AIzaSy...1111"
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert call.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert call.json["generationConfig"] == {"maxOutputTokens": 256, "temperature": 0.5}
    assert call.key == KEY_A
    assert not any(h.startswith(("anthropic-", "x-api-key", "x-stainless")) for h in call.headers)


def test_beta_route_and_headers_never_reach_google(proxy, fake):
    message = client(proxy).beta.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=USER, betas=["interleaved-thinking-2025-05-14"]
    )
    assert message.content[0].text == "echo: hi"
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent" and call.query == {}
    assert not any(h.startswith("anthropic-") for h in call.headers)


def test_bearer_token_and_failover(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    c = anthropic.Anthropic(base_url=proxy, auth_token=f"{KEY_A},{KEY_B}", max_retries=0)
    raw = c.messages.with_raw_response.create(model="gemini-2.5-flash", max_tokens=10, messages=USER)
    assert raw.parse().content[0].text == "echo: hi"
    keys = [r.key for r in fake.generate_calls]  # keys are tried in random order
    assert keys[-1] == KEY_B and raw.headers["x-proxy-attempts"] == str(len(keys)) and keys[:-1] in ([], [KEY_A])


def test_bare_path_without_v1(proxy, fake):
    r = httpx.post(
        proxy + "/messages",
        json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": USER},
        headers={"x-api-key": KEY_A},
    )
    assert r.status_code == 200 and r.json()["content"] == [{"type": "text", "text": "echo: hi"}]
    r = httpx.post(
        proxy + "/messages/count_tokens",
        json={"model": "claude-sonnet-4-5", "messages": USER},
        headers={"x-api-key": KEY_A},
    )
    assert r.json() == {"input_tokens": 1}


def test_async_client(proxy, fake):
    async def run():
        async with anthropic.AsyncAnthropic(base_url=proxy, api_key=KEY_A, max_retries=0) as c:
            return await asyncio.gather(
                *(
                    c.messages.create(
                        model="claude-haiku-4-5", max_tokens=9, messages=[{"role": "user", "content": f"q{i}"}]
                    )
                    for i in range(3)
                )
            )

    messages = asyncio.run(run())
    assert sorted(m.content[0].text for m in messages) == ["echo: q0", "echo: q1", "echo: q2"]
    assert len(fake.generate_calls) == 3


def test_gemini_3_tool_loop_keeps_signatures_byte_for_byte(proxy, fake):
    c = client(proxy)
    fake.reply(
        answer(
            [
                {"text": "I need the file.", "thought": True, "thoughtSignature": THOUGHT_SIG},
                {"functionCall": {"name": "Read", "args": {"file_path": "/tmp/a.txt"}}, "thoughtSignature": SIG},
            ]
        )
    )
    history = [{"role": "user", "content": "What is in /tmp/a.txt?"}]
    first = c.messages.create(
        model="gemini-3-pro-preview",
        max_tokens=1024,
        tools=[READ_TOOL],
        messages=history,
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    thinking, tool = first.content
    assert thinking.type == "thinking" and thinking.thinking == "I need the file." and thinking.signature == THOUGHT_SIG
    assert tool.type == "tool_use" and tool.name == "Read" and tool.input == {"file_path": "/tmp/a.txt"}
    assert first.stop_reason == "tool_use"
    sent = fake.generate_calls[0].json
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "low", "includeThoughts": True}
    assert "additionalProperties" not in str(sent["tools"]) and "const" not in str(sent["tools"])

    fake.reply(
        answer([{"functionCall": {"name": "Read", "args": {"file_path": "/tmp/b.txt"}}, "thoughtSignature": SIG + "2"}])
    )
    history += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "see /tmp/b.txt"}]},
    ]
    second = c.messages.create(model="gemini-3-pro-preview", max_tokens=1024, tools=[READ_TOOL], messages=history)
    (tool2,) = second.content
    # Claude Code drops thinking blocks after /compact: the id alone still carries the signature.
    fake.reply(answer([{"text": "Both files say hello."}]))
    history += [
        {"role": "assistant", "content": [tool2]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool2.id, "content": [{"type": "text", "text": "hello"}]}
            ],
        },
    ]
    final = c.messages.create(model="gemini-3-pro-preview", max_tokens=1024, tools=[READ_TOOL], messages=history)
    assert final.content[0].text == "Both files say hello." and final.stop_reason == "end_turn"

    third = fake.generate_calls[2].json["contents"]
    assert third[1]["parts"] == [
        {"text": "I need the file.", "thought": True, "thoughtSignature": THOUGHT_SIG},
        {"functionCall": {"name": "Read", "args": {"file_path": "/tmp/a.txt"}}, "thoughtSignature": SIG},
    ]
    assert third[2]["parts"] == [{"functionResponse": {"name": "Read", "response": {"result": "see /tmp/b.txt"}}}]
    assert third[3]["parts"] == [
        {"functionCall": {"name": "Read", "args": {"file_path": "/tmp/b.txt"}}, "thoughtSignature": SIG + "2"}
    ]
    assert third[4]["parts"] == [{"functionResponse": {"name": "Read", "response": {"result": "hello"}}}]


def test_foreign_tool_ids_on_gemini_3_are_not_refused(proxy, fake):
    """History from another model (real Claude ids, no signatures) still works on Gemini 3."""
    history = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01AbC", "name": "Read", "input": {"file_path": "/x"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01AbC", "content": "data", "is_error": True}],
        },
    ]
    message = client(proxy).messages.create(
        model="gemini-3-pro-preview", max_tokens=9, tools=[READ_TOOL], messages=history
    )
    assert message.content[0].type == "text"
    parts = fake.generate_calls[0].json["contents"]
    assert parts[1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert parts[2]["parts"] == [{"functionResponse": {"name": "Read", "response": {"error": "data"}}}]


def test_tool_choice_and_parallel_calls(proxy, fake):
    fake.reply(
        answer(
            [
                {"functionCall": {"name": "Read", "args": {"file_path": "a"}}},
                {"functionCall": {"name": "Read", "args": {"file_path": "b"}}},
            ],
            model="gemini-2.5-pro",
        )
    )
    message = client(proxy).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=99,
        tools=[READ_TOOL],
        messages=USER,
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert [b.input for b in message.content] == [{"file_path": "a"}]
    assert fake.generate_calls[0].json["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_web_search_and_citations(proxy, fake):
    grounded = text_response("The sky is blue.", "gemini-2.5-pro")
    grounded["candidates"][0]["groundingMetadata"] = {
        "webSearchQueries": ["sky colour"],
        "groundingChunks": [{"web": {"uri": "https://example.org/sky", "title": "Sky"}}],
        "groundingSupports": [{"segment": {"text": "The sky is blue."}, "groundingChunkIndices": [0]}],
    }
    fake.reply(grounded)
    message = client(proxy).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=99,
        messages=USER,
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    )
    used, results, text = message.content
    assert used.type == "server_tool_use" and used.input == {"query": "sky colour"}
    assert [(r.url, r.title) for r in results.content] == [("https://example.org/sky", "Sky")]
    (citation,) = text.citations
    assert citation.url == "https://example.org/sky" and citation.cited_text == "The sky is blue."
    assert fake.generate_calls[0].json["tools"] == [{"googleSearch": {}}]


def test_images_documents_and_tool_result_images(proxy, fake):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    history = [
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                {
                    "type": "image",
                    "source": {"type": "url", "url": "https://generativelanguage.googleapis.com/v1beta/files/f1"},
                },
                {"type": "text", "text": "look"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "p.png"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_9",
                    "content": [
                        {"type": "text", "text": "an image:"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                    ],
                }
            ],
        },
    ]
    client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=9, tools=[READ_TOOL], messages=history)
    first, _, results = fake.generate_calls[0].json["contents"]
    assert first["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": png}},
        {"text": "notes"},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/f1"}},
        {"text": "look"},
    ]
    assert results["parts"] == [
        {"functionResponse": {"name": "Read", "response": {"result": "an image:"}}},
        {"inlineData": {"mimeType": "image/png", "data": png}},
    ]


def test_count_tokens(proxy, fake):
    count = client(proxy).messages.count_tokens(
        model="claude-sonnet-4-5",
        system="sys",
        tools=[READ_TOOL],
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert count.input_tokens == 4
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-pro:countTokens"
    request = call.json["generateContentRequest"]
    assert request["model"] == "models/gemini-2.5-pro" and request["systemInstruction"] == {"parts": [{"text": "sys"}]}
    assert request["tools"][0]["functionDeclarations"][0]["name"] == "Read"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "claude-sonnet-4-5", "messages": USER}, "max_tokens"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}, "messages"),
        (
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "r"}]}
                ],
            },
            "tool_use_id",
        ),
        (
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%%"}}
                        ],
                    }
                ],
            },
            "base64",
        ),
        (
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "url", "url": "http://127.0.0.1:1/x.png"}}],
                    }
                ],
            },
            "source.url",
        ),
    ],
)
def test_bad_input_is_a_400_with_nothing_sent_upstream(proxy, fake, body, words):
    r = httpx.post(proxy + "/v1/messages", json=body, headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"})
    assert r.status_code == 400
    error = r.json()
    assert (
        error["type"] == "error"
        and error["error"]["type"] == "invalid_request_error"
        and words in error["error"]["message"]
    )
    assert fake.generate_calls == []


def test_broken_json_body(proxy, fake):
    r = httpx.post(
        proxy + "/v1/messages", content=b"{nope", headers={"x-api-key": KEY_A, "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("behaviour", "error", "status", "kind"),
    [
        ("invalid", anthropic.AuthenticationError, 401, "authentication_error"),
        ("forbidden", anthropic.PermissionDeniedError, 403, "permission_error"),
        ("rate_limited", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("unavailable", anthropic.InternalServerError, 529, "overloaded_error"),
    ],
)
def test_upstream_errors_in_anthropic_shape(proxy, fake, behaviour, error, status, kind):
    fake.keys[KEY_A] = behaviour
    with pytest.raises(error) as caught:
        client(proxy).messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=USER)
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == kind and KEY_A not in str(caught.value.body)
    if behaviour == "rate_limited":
        assert caught.value.response.headers["retry-after"] == "7"


def test_unknown_model_is_not_found(proxy, fake):
    fake.reply(error_body(404, "NOT_FOUND", "models/gemini-9 is not found"), status=404)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client(proxy).messages.create(model="gemini-9", max_tokens=5, messages=USER)
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_no_credential_is_401(proxy, fake):
    r = httpx.post(proxy + "/v1/messages", json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": USER})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert fake.generate_calls == []


def test_signed_ids_look_like_tool_ids():
    tool_id = signatures.tool_use_id(SIG)
    assert tool_id.startswith("toolu_") and set(tool_id) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    )
