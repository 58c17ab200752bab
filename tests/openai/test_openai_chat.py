"""OpenAI chat completions (non-streamed) over real HTTP: the real `openai` SDK against
the proxy, asserting on the exact Gemini request the fake upstream received and on what
the client got."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai import OpenAI

from ..clients import openai_v1 as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import error_body, usage

SAFETY = [
    {"category": c, "threshold": "OFF"}
    for c in (
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    )
]
USER = [{"role": "user", "content": "hi"}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def gemini(parts: list[dict], finish: str | None = "STOP", model: str = "gemini-2.5-flash", **meta) -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(**meta), "modelVersion": model, "responseId": "resp-1"}


def sent(fake) -> dict:
    """The one generate call the fake received, as JSON."""
    (call,) = fake.generate_calls
    return call.json


def test_text_round_trip(proxy, fake):
    r = client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "hi there"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "system", "content": "Stay polite."},
            {"role": "user", "content": [{"type": "text", "text": "how"}, {"type": "text", "text": "are you"}]},
        ],
    )
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert call.key == KEY_A and call.query == {}
    assert call.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "hi there"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "how"}, {"text": "are you"}]},
        ],
        # Every system and developer message, in order.
        "systemInstruction": {
            "parts": [{"text": "Be brief."}, {"text": "Answer in English."}, {"text": "Stay polite."}]
        },
        "safetySettings": SAFETY,
    }
    assert r.object == "chat.completion" and r.id == "chatcmpl-fake-response-id"
    assert r.model == "gemini-2.5-flash"
    (choice,) = r.choices
    assert choice.message.role == "assistant" and choice.message.content == "echo: how"
    assert choice.finish_reason == "stop" and choice.message.tool_calls is None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (5, 3, 8)


@pytest.mark.parametrize("prefix", ["", "/v1", "/openai/v1"])
def test_every_base_url(proxy, fake, prefix):
    r = OpenAI(
        base_url=proxy + prefix, api_key=f"{KEY_A},{KEY_B}", max_retries=0
    ).chat.completions.with_raw_response.create(model="gemini-2.5-flash", messages=USER)
    assert r.parse().choices[0].message.content == "echo: hi"
    assert fake.generate_calls[0].key in (KEY_A, KEY_B)
    assert r.headers["x-proxy-key"] in ("AIzaSy...1111", "AIzaSy...2222")
    assert KEY_A not in r.text and KEY_B not in r.text


def test_parameters(proxy, fake):
    client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        temperature=0.3,
        top_p=0.9,
        max_tokens=100,
        max_completion_tokens=200,  # wins over max_tokens
        stop=["END", "STOP"],
        n=2,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        parallel_tool_calls=True,
        user="someone",
        extra_body={"top_k": 40, "some_future_field": {"x": 1}},  # unknown fields ignored
    )
    body = sent(fake)
    assert body["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 40,
        "candidateCount": 2,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 200,
        "stopSequences": ["END", "STOP"],
    }
    assert set(body) == {"contents", "safetySettings", "generationConfig"}


def test_stop_string_and_max_tokens(proxy, fake):
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, stop="END", max_tokens=50)
    assert sent(fake)["generationConfig"] == {"stopSequences": ["END"], "maxOutputTokens": 50}


def test_extra_body_google_passed_through(proxy, fake):
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        extra_body={
            "extra_body": {
                "google": {
                    "safety_settings": safety,
                    "cached_content": "cachedContents/abc",
                    "thinking_config": {"thinking_budget": 512, "include_thoughts": True},
                }
            }
        },
    )
    body = sent(fake)
    assert body["safetySettings"] == safety
    assert body["cachedContent"] == "cachedContents/abc"
    assert body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 512, "includeThoughts": True}}


def test_google_object_merged_by_the_sdk(proxy, fake):
    # The openai SDK merges extra_body into the top level: {"google": {...}} arrives there.
    client(proxy).chat.completions.create(
        model="gemini-3-pro-preview",
        messages=USER,
        reasoning_effort="low",
        extra_body={"google": {"thinking_config": {"thinking_level": "high"}}},
    )
    assert sent(fake)["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high", "includeThoughts": True}


# Model names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked, model, search",
    [
        ("models/gemini-2.5-pro", "gemini-2.5-pro", False),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite", False),
        ("gemma-3-27b-it", "gemma-3-27b-it", False),
        ("learnlm-2.0-flash-experimental", "learnlm-2.0-flash-experimental", False),
        ("gpt-4o", "gemini-2.5-pro", False),  # MODEL_ALIASES
        ("gpt-4o-mini", "gemini-2.5-flash-lite", False),
        ("claude-3-opus", "gemini-3-pro-preview", False),  # unknown: DEFAULT_MODEL
        ("gemini-2.5-flash:search", "gemini-2.5-flash", True),
        ("gemini-2.5-pro-search", "gemini-2.5-pro", True),
        ("gpt-4o-search", "gemini-2.5-pro", True),
        ("models/gemini-2.5-flash:search", "gemini-2.5-flash", True),
    ],
)
def test_model_names(start_proxy, fake, asked, model, search):
    url = start_proxy(
        MODEL_ALIASES="gpt-4o=gemini-2.5-pro,gpt-4o-mini=models/gemini-2.5-flash-lite",
        DEFAULT_MODEL="gemini-3-pro-preview",
    )
    r = client(url).chat.completions.create(model=asked, messages=USER)
    (call,) = fake.generate_calls
    assert call.path == f"/v1beta/models/{model}:generateContent"
    assert call.json.get("tools") == ([{"googleSearch": {}}] if search else None)
    assert r.model == model  # the Gemini model actually used


def test_default_model(proxy, fake):
    client(proxy).chat.completions.create(model="gpt-3.5-turbo", messages=USER)
    assert fake.generate_calls[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_model_name_cannot_change_the_upstream_path(proxy, fake):
    httpx.post(
        proxy + "/v1/chat/completions",
        json={"model": "gemini-x/../../files?y=", "messages": USER},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    (call,) = fake.generate_calls
    # Quoted as one path segment: no "../" walk to another endpoint, no query smuggled in.
    assert call.path.startswith("/v1beta/models/gemini-x/../../files") and call.path.endswith("y=:generateContent")
    assert call.query == {}


def test_web_search_options_and_search_tool(proxy, fake):
    c = client(proxy)
    c.chat.completions.create(model="gemini-2.5-flash", messages=USER, web_search_options={})
    assert fake.generate_calls[-1].json["tools"] == [{"googleSearch": {}}]
    # Cherry Studio's convention: a function tool named googleSearch, not sent as a function.
    c.chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        tools=[
            {
                "type": "function",
                "function": {"name": "googleSearch", "parameters": {"type": "object", "properties": {}}},
            },
            {"type": "function", "function": {"name": "get_time", "description": "Now."}},
        ],
    )
    assert fake.generate_calls[-1].json["tools"] == [
        {"functionDeclarations": [{"name": "get_time", "description": "Now."}]},
        {"googleSearch": {}},
    ]


# Tools --------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def test_tools_across_two_turns(proxy, fake):
    c = client(proxy)
    fake.reply(
        gemini(
            [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTE="},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome", "unit": "c"}}},
            ]
        )
    )
    messages = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    first = c.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER], tool_choice="auto")
    assert fake.generate_calls[0].json["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city.",
                    "parameters": WEATHER["function"]["parameters"],
                }
            ]
        }
    ]
    assert fake.generate_calls[0].json["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    (choice,) = first.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    paris, rome = choice.message.tool_calls
    assert paris.type == "function" and paris.function.name == "get_weather"
    assert json.loads(paris.function.arguments) == {"city": "Paris"}
    assert json.loads(rome.function.arguments) == {"city": "Rome", "unit": "c"}
    assert paris.id != rome.id and paris.id.startswith("call_")
    assert paris.model_extra["extra_content"] == {"google": {"thought_signature": "c2lnLTE="}}
    assert "extra_content" not in rome.model_extra

    # Second turn: the tool results come back in the other order; one is plain text.
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": rome.id, "content": "sunny, 24C"})
    messages.append({"role": "tool", "tool_call_id": paris.id, "content": '{"sky": "rain", "temp": 12}'})
    second = c.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER])
    assert fake.generate_calls[1].json["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTE="},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome", "unit": "c"}}},
            ],
        },
        {
            "role": "user",  # one turn, in the order of the calls
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"sky": "rain", "temp": 12}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "sunny, 24C"}}},
            ],
        },
    ]
    assert "toolConfig" not in fake.generate_calls[1].json
    assert second.choices[0].message.content == "echo: Let me check."


@pytest.mark.parametrize(
    "choice, config",
    [
        ("none", {"mode": "NONE"}),
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(proxy, fake, choice, config):
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, tools=[WEATHER], tool_choice=choice)
    assert sent(fake)["toolConfig"] == {"functionCallingConfig": config}


@pytest.mark.parametrize(
    "content, response",
    [
        ("42", {"result": 42}),
        ("[1, 2]", {"result": [1, 2]}),
        ('"x"', {"result": "x"}),
        ("null", {"result": None}),
        ("plain text, not JSON", {"result": "plain text, not JSON"}),
        ('{"ok": true}', {"ok": True}),
        ([{"type": "text", "text": '{"a": '}, {"type": "text", "text": "1}"}], {"a": 1}),
    ],
)
def test_tool_result_wrapping(proxy, fake, content, response):
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=messages)
    contents = sent(fake)["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": response}}]}


def test_broken_tool_arguments_are_forwarded(proxy, fake):
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=messages)
    assert sent(fake)["contents"][1]["parts"] == [{"functionCall": {"name": "f", "args": {"arguments": "{not json"}}}]


def test_gemini_3_signatures(proxy, fake):
    def assistant(*signatures):
        return {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": f"c{i}",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                    **({"extra_content": {"google": {"thought_signature": s}}} if s else {}),
                }
                for i, s in enumerate(signatures)
            ],
        }

    messages = [
        {"role": "user", "content": "go"},
        assistant("sig-a", None),  # signed by Gemini 3: sent back as it came
        {"role": "tool", "tool_call_id": "c0", "content": "1"},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
        assistant(None),  # a client that dropped the signature: Google's documented sentinel
        {"role": "tool", "tool_call_id": "c0", "content": "3"},
    ]
    client(proxy).chat.completions.create(model="gemini-3-pro-preview", messages=messages)
    contents = sent(fake)["contents"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig-a"},
        {"functionCall": {"name": "f", "args": {}}},
    ]
    assert contents[3]["parts"] == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "skip_thought_signature_validator"}
    ]
    fake.received.clear()
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=messages)
    assert "thoughtSignature" not in sent(fake)["contents"][3]["parts"][0]  # 2.5 needs none


def test_tool_without_parameters(proxy, fake):
    tools = [
        {"type": "function", "function": {"name": "now"}},
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}},
    ]
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, tools=tools)
    assert sent(fake)["tools"] == [{"functionDeclarations": [{"name": "now"}, {"name": "ping"}]}]


CLAUDE_CODE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "command": {"type": "string", "description": "The command"},
        "options": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"timeout": {"type": "number"}},
        },
    },
    "required": ["command"],
}


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node)) if node else set()
    return set()


def test_tool_schema_goes_through_to_gemini_schema(proxy, fake):
    tool = {"type": "function", "function": {"name": "Bash", "parameters": CLAUDE_CODE_SCHEMA, "strict": True}}
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, tools=[tool])
    (declaration,) = sent(fake)["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "Bash"
    assert not {"additionalProperties", "$schema", "strict"} & _keys(declaration)
    assert declaration["parameters"]["properties"]["command"]["type"] in ("string", "STRING")


# Structured output and reasoning ------------------------------------------------------

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def test_response_format_json_schema(proxy, fake):
    fake.reply(gemini([{"text": '{"name": "Ada", "age": 36}'}]))
    r = client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
    )
    assert sent(fake)["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": PERSON}
    assert json.loads(r.choices[0].message.content) == {"name": "Ada", "age": 36}


@pytest.mark.parametrize(
    "fmt, config",
    [
        ({"type": "json_object"}, {"responseMimeType": "application/json"}),
        ({"type": "text"}, None),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "color", "schema": {"type": "string", "enum": ["red", "blue"]}},
            },
            # JSON (`"red"`), not text/x.enum's bare `red`: the client parses the content as JSON.
            {"responseMimeType": "application/json", "responseSchema": {"type": "string", "enum": ["red", "blue"]}},
        ),
    ],
)
def test_response_formats(proxy, fake, fmt, config):
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, response_format=fmt)
    assert sent(fake).get("generationConfig") == config


@pytest.mark.parametrize(
    "model, effort, thinking",
    [
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-2.5-flash", "minimal", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-pro", "none", {"thinkingBudget": 128}),  # 2.5 Pro cannot turn thinking off
        ("gemini-2.5-pro", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-3-pro-preview", "none", {"thinkingLevel": "low"}),  # 3 Pro: low and high only
        ("gemini-3-pro-preview", "minimal", {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemini-3-pro-preview", "medium", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3.1-pro-preview", "minimal", {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemini-3.1-pro-preview", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
        ("gemini-3-flash-preview", "none", {"thinkingLevel": "minimal"}),
        ("gemini-3-flash-preview", "minimal", {"thinkingLevel": "minimal", "includeThoughts": True}),
        ("gemini-3-flash-preview", "medium", {"thinkingLevel": "medium", "includeThoughts": True}),
        ("gemma-3-27b-it", "high", None),  # no thinking: Gemini would refuse the field
        ("gemini-2.0-flash", "high", None),
    ],
)
def test_reasoning_effort(proxy, fake, model, effort, thinking):
    client(proxy).chat.completions.create(model=model, messages=USER, reasoning_effort=effort)
    assert sent(fake).get("generationConfig", {}).get("thinkingConfig") == thinking


def test_thoughts_go_to_reasoning_content(proxy, fake):
    fake.reply(
        gemini(
            [
                {"text": "Let me think. ", "thought": True},
                {"text": "Done thinking.", "thought": True},
                {"text": "The answer is 4."},
            ],
            thoughts=40,
        )
    )
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, reasoning_effort="high")
    message = r.choices[0].message
    assert message.content == "The answer is 4."
    assert message.model_extra["reasoning_content"] == "Let me think. Done thinking."
    assert r.usage.completion_tokens == 43 and r.usage.completion_tokens_details.reasoning_tokens == 40
    assert r.usage.total_tokens == 48


# Responses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason, finish",
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "stop"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("SOMETHING_NEW", "stop"),
    ],
)
def test_finish_reasons(proxy, fake, reason, finish):
    fake.reply(gemini([{"text": "x"}], finish=reason))
    assert (
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER).choices[0].finish_reason
        == finish
    )


def test_blocked_prompt(proxy, fake):
    fake.reply(
        {
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": usage(answer=0),
            "modelVersion": "gemini-2.5-flash",
        }
    )
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    (choice,) = r.choices
    assert choice.finish_reason == "content_filter"
    assert "blocked" in choice.message.content and "PROHIBITED_CONTENT" in choice.message.content
    assert r.usage.prompt_tokens == 5 and r.usage.completion_tokens == 0


def test_several_candidates_images_and_cached_tokens(proxy, fake):
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Here: "}, {"inlineData": {"mimeType": "image/png", "data": PNG}}],
                },
                "finishReason": "STOP",
                "index": 0,
            },
            {"content": {"role": "model", "parts": [{"text": "Second"}]}, "finishReason": "MAX_TOKENS", "index": 1},
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 6,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 16,
        },
        "modelVersion": "gemini-2.5-flash-image",
    }
    fake.reply(body)
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash-image", messages=USER, n=2)
    first, second = r.choices
    assert first.message.content == f"Here: ![image](data:image/png;base64,{PNG})"
    assert (second.index, second.message.content, second.finish_reason) == (1, "Second", "length")
    assert r.usage.prompt_tokens_details.cached_tokens == 4
    assert r.model == "gemini-2.5-flash-image"


# Media --------------------------------------------------------------------------------


def test_media_parts(proxy, fake):
    client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Listen and read."},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                    },
                    {"type": "file", "file": {"file_data": "JVBERi0x", "filename": "b.pdf"}},
                    {"type": "file", "file": {"file_data": "aGVsbG8=", "filename": "notes.txt"}},
                    {"type": "file", "file": {"file_id": "files/abc123"}},
                ],
            },
        ],
    )
    assert sent(fake)["contents"] == [
        # An image-only message: the image and nothing else.
        {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]},
        {
            "role": "user",
            "parts": [
                {"text": "Listen and read."},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
                {"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8="}},
                {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc123"}},
            ],
        },
    ]


# Bad input: 400 in OpenAI's shape, nothing sent upstream -------------------------------


def _msgs(*messages):
    return {"model": "gemini-2.5-flash", "messages": list(messages)}


BAD = [
    ("malformed JSON", b'{"model": "x", "messages": [', None, "not valid JSON"),
    ("not an object", b"[1, 2]", None, "JSON object"),
    ("no messages", {"model": "gemini-2.5-flash"}, "messages", "messages"),
    ("empty messages", _msgs(), "messages", "messages"),
    ("unknown role", _msgs({"role": "robot", "content": "hi"}), "messages[0].role", "robot"),
    ("message not an object", _msgs("hi"), "messages[0]", "object"),
    (
        "bad data URL",
        _msgs({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:nonsense"}}]}),
        "messages[0].content[0].image_url",
        None,
    ),
    # Refused by the stub media.py (data URLs only) and by the SSRF guard (loopback) alike.
    (
        "refused image URL",
        _msgs({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/x.png"}}]}),
        "messages[0].content[0].image_url",
        None,
    ),
    (
        "image without URL",
        _msgs({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
        "messages[0].content[0].image_url",
        "URL",
    ),
    (
        "part without a type",  # malformed, not new: a part names its type
        _msgs({"role": "user", "content": [{"video_url": {"url": "x"}}]}),
        "messages[0].content[0].type",
        "type",
    ),
    (
        "part not an object",
        _msgs({"role": "system", "content": ["be brief"]}, {"role": "user", "content": "hi"}),
        "messages[0].content[0].type",
        None,
    ),
    (
        "audio without format",
        _msgs({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg=="}}]}),
        "messages[0].content[0].input_audio",
        "format",
    ),
    (
        "file without data",
        _msgs({"role": "user", "content": [{"type": "file", "file": {"filename": "a.pdf"}}]}),
        "messages[0].content[0].file",
        "file_data",
    ),
    (
        "unmatched tool_call_id",
        _msgs(
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c9", "content": "x"},
        ),
        "messages[2].tool_call_id",
        "c9",
    ),
    (
        "tool result without a call",
        _msgs({"role": "user", "content": "go"}, {"role": "tool", "tool_call_id": "c1", "content": "x"}),
        "messages[1].tool_call_id",
        "c1",
    ),
    ("content not text or list", _msgs({"role": "user", "content": 42}), "messages[0].content", "string"),
    (
        "reasoning_effort not a string",  # a new value is dropped (test_openai_chat_forward)
        {**_msgs({"role": "user", "content": "hi"}), "reasoning_effort": 3},
        "reasoning_effort",
        "3",
    ),
    (
        "tool_choice not a choice",
        {**_msgs({"role": "user", "content": "hi"}), "tool_choice": 42},
        "tool_choice",
        "function",
    ),
    (
        "tool not an object",
        {**_msgs({"role": "user", "content": "hi"}), "tools": ["search"]},
        "tools[0]",
        "typed tool",
    ),
    (
        "bad response_format",
        {**_msgs({"role": "user", "content": "hi"}), "response_format": {"type": "xml"}},
        "response_format",
        "xml",
    ),
    (
        "tool without name",
        {**_msgs({"role": "user", "content": "hi"}), "tools": [{"type": "function", "function": {}}]},
        "tools[0].function.name",
        "name",
    ),
]


@pytest.mark.parametrize("name, body, param, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input(proxy, fake, name, body, param, words):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(
        proxy + "/v1/chat/completions",
        content=content,
        headers={"authorization": f"Bearer {KEY_A}", "content-type": "application/json"},
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert isinstance(error["message"], str) and error["message"]
    if words:
        assert words in error["message"]
    assert fake.received == []


def test_bad_input_with_the_sdk(proxy, fake):
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "wizard", "content": "hi"}])
    assert caught.value.status_code == 400 and "wizard" in caught.value.message
    assert fake.received == []


# Upstream errors: the real status, OpenAI's shape -------------------------------------


def test_rate_limited_everywhere_is_429_with_retry_after(proxy, fake):
    fake.keys.update({KEY_A: "rate_limited", KEY_B: "rate_limited"})
    with pytest.raises(openai.RateLimitError) as caught:
        client(proxy, api_key=f"{KEY_A},{KEY_B}").chat.completions.create(model="gemini-2.5-flash", messages=USER)
    response = caught.value.response
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(fake.generate_calls) == 2


def test_failover_to_a_working_key(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    r = client(proxy, api_key=f"{KEY_A},{KEY_B}").chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=USER
    )
    assert r.parse().choices[0].message.content == "echo: hi"
    assert fake.generate_calls[-1].key == KEY_B


@pytest.mark.parametrize(
    "status, gstatus, exc, kind, code",
    [
        (400, "INVALID_ARGUMENT", openai.BadRequestError, "invalid_request_error", None),
        (404, "NOT_FOUND", openai.NotFoundError, "not_found_error", "model_not_found"),
        (500, "INTERNAL", openai.InternalServerError, "api_error", None),
        (503, "UNAVAILABLE", openai.InternalServerError, "api_error", None),
    ],
)
def test_upstream_error_statuses(proxy, fake, status, gstatus, exc, kind, code):
    fake.reply(error_body(status, gstatus, f"upstream says {status}"), status=status)
    fake.reply(error_body(status, gstatus, f"upstream says {status}"), status=status)
    fake.reply(error_body(status, gstatus, f"upstream says {status}"), status=status)
    with pytest.raises(exc) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.body == {"message": f"upstream says {status}", "type": kind, "param": None, "code": code}


def test_invalid_key_is_an_authentication_error(proxy, fake):
    """Gemini's 400 API_KEY_INVALID is OpenAI's 401, so the SDKs raise AuthenticationError."""
    fake.keys[KEY_A] = "invalid"
    with pytest.raises(openai.AuthenticationError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.body["type"] == "authentication_error" and caught.value.body["code"] == "invalid_api_key"
    assert "API key not valid" in caught.value.message and KEY_A not in caught.value.response.text


def test_unreachable_upstream_is_502(start_proxy, fake):
    url = start_proxy(GEMINI_BASE_URL="http://127.0.0.1:9", CONNECT_TIMEOUT="1")
    with pytest.raises(openai.InternalServerError) as caught:
        client(url).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "api_error"


def test_no_credentials_is_401(proxy, fake):
    r = httpx.post(proxy + "/v1/chat/completions", json=_msgs({"role": "user", "content": "hi"}))
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert fake.received == []


@pytest.mark.parametrize("body", [[1, 2], {"candidates": 5}, {"candidates": [{"content": {"parts": [5]}}]}, "text"])
def test_upstream_answer_of_an_unexpected_shape_is_502(proxy, fake, body):
    fake.reply(body)
    with pytest.raises(openai.APIStatusError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == 502 and "unexpected shape" in caught.value.message
