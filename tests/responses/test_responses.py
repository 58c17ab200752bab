"""The Responses API over real HTTP: the real `openai` SDK's `responses` API against the
proxy and the fake Gemini, asserting what the client got and what Gemini received."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from handler.responses import signatures

from ..clients import openai_v1 as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, usage

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
SIG = "EuYBCuMBAdHtim9+signature/bytes=="
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "strict": True,
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def gemini(parts: list[dict], finish: str | None = "STOP", model: str = "gemini-2.5-flash", **meta) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(**meta), "modelVersion": model, "responseId": "resp-1"}


def sent(fake, n: int = -1) -> dict:
    return fake.generate_calls[n].json


def test_text_round_trip(proxy, fake):
    r = client(proxy).responses.create(
        model="gemini-2.5-flash", instructions="Be brief.", input="hello there", max_output_tokens=64, store=False
    )
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent" and call.key == KEY_A
    assert call.json["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]
    assert call.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert call.json["generationConfig"] == {"maxOutputTokens": 64}
    assert r.object == "response" and r.id.startswith("resp_") and r.status == "completed"
    assert r.output_text == "echo: hello there"
    assert r.model == "gemini-2.5-flash" and r.instructions == "Be brief." and r.store is False
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (5, 3, 8)
    assert r.usage.input_tokens_details.cached_tokens == 0 and r.usage.output_tokens_details.reasoning_tokens == 0


@pytest.mark.parametrize("path", ["/responses", "/v1/responses", "/openai/v1/responses"])
def test_every_prefix_and_never_the_native_pass_through(proxy, fake, path):
    r = httpx.post(
        proxy + path, json={"model": "gemini-2.5-flash", "input": "hi"}, headers={"authorization": f"Bearer {KEY_A}"}
    )
    assert r.status_code == 200 and r.json()["output"][0]["content"][0]["text"] == "echo: hi"
    assert [c.path for c in fake.generate_calls] == ["/v1beta/models/gemini-2.5-flash:generateContent"]


def test_structured_output_with_parse(proxy, fake):
    class Person(BaseModel):
        name: str
        age: int

    fake.reply(gemini([{"text": '{"name": "Ada", "age": 36}'}]))
    r = client(proxy).responses.parse(model="gemini-2.5-flash", input="Who?", text_format=Person)
    assert r.output_parsed == Person(name="Ada", age=36)
    config = sent(fake)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "object",
        "title": "Person",
        "properties": {"name": {"type": "string", "title": "Name"}, "age": {"type": "integer", "title": "Age"}},
        "required": ["name", "age"],
    }


def test_tool_loop_with_function_call_output(proxy, fake):
    c = client(proxy)
    fake.reply(gemini([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}], thoughts=2))
    first = c.responses.create(
        model="gemini-2.5-flash",
        input=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="required",
    )
    (call,) = first.output
    assert (
        call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    )
    assert first.usage.output_tokens_details.reasoning_tokens == 2
    assert sent(fake)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent(fake)["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                }
            ]
        }
    ]

    fake.reply(gemini([{"text": "Sunny in Paris."}]))
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"sky": "sunny"})},
    ]
    second = c.responses.create(model="gemini-2.5-flash", input=history, tools=[WEATHER])
    assert second.output_text == "Sunny in Paris."
    assert sent(fake)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "sunny"}}}]},
    ]


def test_gemini_3_signatures_across_turns(proxy, fake):
    """The fake refuses a Gemini 3 call without its signature in the current turn, as
    Google does; the signatures ride in the call id and in encrypted_content."""
    c = client(proxy)
    model = "gemini-3-pro-preview"
    fake.reply(
        gemini(
            [
                {"text": "Plan: look it up.", "thought": True, "thoughtSignature": "THOUGHT" + SIG},
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ],
            model=model,
        )
    )
    ask = {
        "model": model,
        "tools": [WEATHER],
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "high", "summary": "auto"},
        "store": False,
    }
    history: list = [{"role": "user", "content": "Oslo and Rome?"}]
    first = c.responses.create(input=history, **ask)
    reasoning, oslo, rome = first.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Plan: look it up."
    assert reasoning.encrypted_content == signatures.encrypted("THOUGHT" + SIG)
    assert sent(fake)["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high", "includeThoughts": True}

    fake.reply(gemini([{"text": "Both sunny.", "thoughtSignature": "TEXT" + SIG}], model=model))
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history += [
        {"type": "function_call_output", "call_id": oslo.call_id, "output": "sunny"},
        {"type": "function_call_output", "call_id": rome.call_id, "output": "sunny"},
    ]
    second = c.responses.create(input=history, **ask)
    assert second.status == "completed" and second.output_text == "Both sunny."
    model_turn = sent(fake)["contents"][1]["parts"]
    assert model_turn == [
        {"text": "", "thoughtSignature": "THOUGHT" + SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]
    # The signed answer text: its signature comes back on the next turn, byte for byte.
    _, signed = second.output
    assert signed.type == "reasoning" and signed.encrypted_content == signatures.encrypted("TEXT" + SIG)
    fake.reply(gemini([{"text": "You're welcome."}], model=model))
    history += [item.model_dump(exclude_none=True) for item in second.output] + [{"role": "user", "content": "Thanks"}]
    c.responses.create(input=history, **ask)
    assert sent(fake)["contents"][3] == {
        "role": "model",
        "parts": [{"text": "Both sunny."}, {"text": "", "thoughtSignature": "TEXT" + SIG}],
    }


def test_a_call_without_its_signature_is_what_gemini_3_refuses(proxy, fake):
    """The other side of the test above: the fake does refuse what Google refuses."""
    r = httpx.post(
        proxy + "/v1beta/models/gemini-3-pro-preview:generateContent",
        headers={"x-goog-api-key": KEY_A},
        json={
            "contents": [
                {"role": "user", "parts": [{"text": "x"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            ]
        },
    )
    assert r.status_code == 400 and "thought_signature" in r.text


def test_images_and_files(proxy, fake):
    client(proxy).responses.create(
        model="gemini-2.5-flash",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                    {"type": "input_image", "file_id": "files/abc123"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": PNG},
                ],
            }
        ],
    )
    assert sent(fake)["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123"}},
        {"inlineData": {"mimeType": "application/pdf", "data": PNG}},
    ]


def test_web_search_gives_url_citations(proxy, fake):
    text = "Paris is in France."
    answer = gemini([{"text": text}])
    answer["candidates"][0]["groundingMetadata"] = {
        "webSearchQueries": ["paris"],
        "groundingChunks": [{"web": {"uri": "https://example.org/paris", "title": "example.org"}}],
        "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": len(text)}, "groundingChunkIndices": [0]}],
    }
    fake.reply(answer)
    r = client(proxy).responses.create(
        model="gemini-2.5-flash", input="Where is Paris?", tools=[{"type": "web_search"}]
    )
    assert sent(fake)["tools"] == [{"googleSearch": {}}]
    (annotation,) = r.output[0].content[0].annotations
    assert annotation.type == "url_citation" and annotation.url == "https://example.org/paris"
    assert (annotation.start_index, annotation.end_index, annotation.title) == (0, len(text), "example.org")


def test_bad_input_is_a_400_in_openai_shape_and_nothing_goes_upstream(proxy, fake):
    c = client(proxy)
    cases = [
        ({"model": "gemini-2.5-flash"}, "input"),
        ({"model": "gemini-2.5-flash", "input": [{"id": "x"}]}, "input[0].type"),
        (
            {
                "model": "gemini-2.5-flash",
                "input": [
                    {"role": "user", "content": "x"},
                    {"type": "function_call_output", "call_id": "call_x", "output": "1"},
                ],
            },
            "input[1].call_id",
        ),
        (
            {
                "model": "gemini-2.5-flash",
                "input": [
                    {"role": "user", "content": [{"type": "input_file", "file_data": "%%%", "filename": "a.pdf"}]}
                ],
            },
            "input[0].content[0].file_data",
        ),
        (
            {
                "model": "gemini-2.5-flash",
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_image", "image_url": "http://169.254.169.254/latest/x.png"}],
                    }
                ],
            },
            "input[0].content[0].image_url",
        ),  # the SSRF guard: never fetched
        ({"model": "gemini-2.5-flash", "input": "x", "previous_response_id": "resp_123"}, "previous_response_id"),
    ]
    for body, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            c.responses.create(**body)
        error = caught.value.body
        assert caught.value.status_code == 400 and error["type"] == "invalid_request_error" and error["param"] == param
    assert "send the whole conversation in input" in error["message"]
    assert fake.generate_calls == []


def test_stored_responses_and_conversations_are_a_404_saying_why(proxy, fake):
    c = client(proxy)
    with pytest.raises(openai.NotFoundError) as caught:
        c.responses.retrieve("resp_123")
    assert "stateless" in caught.value.body["message"] and caught.value.body["type"] == "not_found_error"
    with pytest.raises(openai.NotFoundError):
        c.conversations.create()
    for method, path in [
        ("DELETE", "/v1/responses/resp_1"),
        ("GET", "/v1/responses/resp_1/input_items"),
        ("POST", "/v1/responses/resp_1/cancel"),
    ]:
        r = httpx.request(method, proxy + path, headers={"authorization": f"Bearer {KEY_A}"})
        assert r.status_code == 404 and r.json()["error"]["message"].endswith("send the whole conversation in input.")
    assert fake.received == []


def test_upstream_errors_keep_their_status(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    with pytest.raises(openai.RateLimitError) as caught:
        client(proxy).responses.create(model="gemini-2.5-flash", input="x")
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["type"] == "rate_limit_error" and KEY_A not in caught.value.response.text
    fake.keys[KEY_B] = "invalid"
    with pytest.raises(openai.AuthenticationError):
        client(proxy, api_key=KEY_B).responses.create(model="gemini-2.5-flash", input="x")
    fake.keys.clear()
    fake.reply(error_body(404, "NOT_FOUND", "models/gemini-9 is not found"), status=404)
    with pytest.raises(openai.NotFoundError) as missing:
        client(proxy).responses.create(model="gemini-9", input="x")
    assert missing.value.body["code"] == "model_not_found"


def test_failover_to_the_next_key(proxy, fake):
    fake.keys[KEY_A] = "unavailable"
    r = client(proxy, api_key=f"{KEY_A},{KEY_B}").responses.create(model="gemini-2.5-flash", input="x")
    assert r.output_text == "echo: x"
    # The keys are tried in random order: KEY_B answers, whether KEY_A was tried first or not.
    assert [c.key for c in fake.generate_calls] in ([KEY_A, KEY_B], [KEY_B])
