"""OpenAI chat completions: what real clients tripped on (issue 13), through the real
`openai` SDK (and LangChain where it showed the miss), asserting what the client
parsed and what the fake Gemini received.

1. enums of numbers and booleans keep their type (Gemini's JSON Schema fields);
2. a bare enum `response_format` answers JSON (`"red"`);
3. Google Search grounding -> `message.annotations` (url_citation), streamed and not;
4. a function tool named web_search / google_search / googleSearch is Gemini's search;
5. `reasoning: {effort | max_tokens | enabled | exclude}` (OpenRouter's form);
6. images in tool results go with the function response;
7. auth failures: 401 `invalid_api_key`, a suspended key's 403 `permission_error`.
"""

from __future__ import annotations

import json
from typing import Literal

import httpx
import openai
import pytest
from pydantic import BaseModel

from ..clients import openai_v1 as client
from ..conftest import KEY_A, TOKEN
from ..fake_gemini import error_body
from .test_openai_chat import PNG, USER, gemini, sent
from .test_openai_chat_stream import data, event, raw_stream


class Rating(BaseModel):
    stars: Literal[1, 2, 3, 4, 5]
    mood: Literal["happy", "sad"]
    level: Literal[0, 5, 10] | None
    exact: Literal[True]


# What `Rating` becomes in Gemini's JSON Schema form: typed enums, a null branch for
# Optional, a boolean for Literal[True] (Gemini takes no boolean enum).
RATING_JSON_SCHEMA = {
    "title": "Rating",
    "type": "object",
    "properties": {
        "stars": {"title": "Stars", "enum": [1, 2, 3, 4, 5], "type": "integer"},
        "mood": {"title": "Mood", "enum": ["happy", "sad"], "type": "string"},
        "level": {"title": "Level", "anyOf": [{"enum": [0, 5, 10], "type": "integer"}, {"type": "null"}]},
        "exact": {"title": "Exact", "type": "boolean"},
    },
    "required": ["stars", "mood", "level", "exact"],
}
RATING_ANSWER = '{"stars": 4, "mood": "happy", "level": 10, "exact": true}'


# 1. Typed enums ------------------------------------------------------------------------


def test_parse_with_integer_enums(proxy, fake):
    fake.reply(gemini([{"text": RATING_ANSWER}]))
    r = client(proxy).chat.completions.parse(model="gemini-2.5-flash", messages=USER, response_format=Rating)
    config = sent(fake)["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": RATING_JSON_SCHEMA}
    parsed = r.choices[0].message.parsed
    assert parsed == Rating(stars=4, mood="happy", level=10, exact=True)
    assert type(parsed.stars) is int


def test_parse_streamed_with_integer_enums_streams(proxy, fake):
    pieces = ['{"stars": 4, ', '"mood": "sad", ', '"level": null, ', '"exact": true}']
    fake.reply(events=[event([{"text": p}], "STOP" if i == 3 else None) for i, p in enumerate(pieces)], delay=0.3)
    with client(proxy).chat.completions.stream(
        model="gemini-2.5-flash", messages=USER, response_format=Rating
    ) as stream:
        first = None
        for e in stream:
            if e.type == "content.delta" and first is None:
                first = fake.event_times[:]  # what the upstream had sent when the first piece arrived
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == Rating(stars=4, mood="sad", level=None, exact=True)
    assert first is not None and len(first) < len(pieces)  # not buffered until the end
    assert fake.generate_calls[0].json["generationConfig"]["responseJsonSchema"] == RATING_JSON_SCHEMA


def test_tool_arguments_with_literal_ints(proxy, fake):
    tool = openai.pydantic_function_tool(Rating, name="rate")
    fake.reply(gemini([{"functionCall": {"name": "rate", "args": json.loads(RATING_ANSWER)}}]))
    r = client(proxy).chat.completions.parse(model="gemini-2.5-flash", messages=USER, tools=[tool])
    (declaration,) = sent(fake)["tools"][0]["functionDeclarations"]
    assert declaration == {"name": "rate", "parametersJsonSchema": RATING_JSON_SCHEMA}
    (call,) = r.choices[0].message.tool_calls
    assert call.function.parsed_arguments == Rating(stars=4, mood="happy", level=10, exact=True)


def test_streamed_tool_arguments_keep_their_types(proxy, fake):
    tool = openai.pydantic_function_tool(Rating, name="rate")
    fake.reply(events=[event([{"functionCall": {"name": "rate", "args": json.loads(RATING_ANSWER)}}], "STOP")])
    with client(proxy).chat.completions.stream(model="gemini-2.5-flash", messages=USER, tools=[tool]) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.parsed_arguments.stars == 4 and call.function.parsed_arguments.level == 10
    (declaration,) = fake.generate_calls[0].json["tools"][0]["functionDeclarations"]
    assert declaration["parametersJsonSchema"] == RATING_JSON_SCHEMA


def test_string_only_schemas_keep_the_openapi_form(proxy, fake):
    weather = {
        "type": "object",
        "properties": {"unit": {"type": "string", "enum": ["c", "f"]}, "days": {"type": "integer"}},
    }
    client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        tools=[{"type": "function", "function": {"name": "w", "parameters": weather}}],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": weather}},
    )
    body = sent(fake)
    assert body["tools"][0]["functionDeclarations"][0]["parameters"] == weather
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": weather}


def test_langchain_structured_output_with_literal_ints(proxy, fake):
    langchain_openai = pytest.importorskip(
        "langchain_openai", reason="langchain-openai is not installed (requirements-dev.txt)"
    )
    fake.reply(gemini([{"text": RATING_ANSWER}]))
    llm = langchain_openai.ChatOpenAI(model="gemini-2.5-flash", base_url=proxy + "/v1", api_key=KEY_A, max_retries=0)
    rating = llm.with_structured_output(Rating, method="json_schema").invoke("rate it")
    assert rating == Rating(stars=4, mood="happy", level=10, exact=True)
    assert sent(fake)["generationConfig"]["responseJsonSchema"] == RATING_JSON_SCHEMA


@pytest.mark.parametrize(
    "config, refused",
    [
        (
            {"responseMimeType": "application/json", "responseSchema": {"type": "integer", "enum": [1]}},
            "only allowed for STRING",
        ),
        (
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "boolean", "enum": [True]}},
            "strings or numbers",
        ),
        (
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "string", "nullable": True}},
            "nullable",
        ),
        ({"responseJsonSchema": {"type": "integer", "enum": [1]}}, "application/json"),
        (
            {
                "responseMimeType": "application/json",
                "responseSchema": {"type": "string"},
                "responseJsonSchema": {"type": "string"},
            },
            "exclusive",
        ),
        ({"responseMimeType": "application/json", "responseJsonSchema": {"type": "integer", "enum": [1, 2.5]}}, None),
    ],
)
def test_the_fake_refuses_what_gemini_refuses(fake, fake_url, config, refused):
    """The fake Gemini's rules for the forms sent above (a fake that took anything
    would let a wrong form pass these tests)."""
    r = httpx.post(
        f"{fake_url}/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": KEY_A},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": config},
    )
    if refused is None:
        assert r.status_code == 200
    else:
        assert r.status_code == 400 and refused in r.json()["error"]["message"]


# 2. A bare enum answers JSON -----------------------------------------------------------


@pytest.mark.parametrize(
    "schema, answer, config_key, value",
    [
        ({"type": "string", "enum": ["red", "blue"]}, '"red"', "responseSchema", "red"),
        ({"type": "integer", "enum": [1, 2, 3]}, "2", "responseJsonSchema", 2),
    ],
)
def test_bare_enum_is_json(proxy, fake, schema, answer, config_key, value):
    fake.reply(gemini([{"text": answer}]))
    r = client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    assert sent(fake)["generationConfig"] == {"responseMimeType": "application/json", config_key: schema}
    assert json.loads(r.choices[0].message.content) == value


# 3 and 4. Google Search: annotations, and search tools by name ------------------------

ANSWER = "Le café coûte 3 €. Paris a 2 millions d'habitants."
CAFE, PARIS = "Le café coûte 3 €.", "Paris a 2 millions d'habitants."


def grounding(offset_bytes: int = 0, part: int | None = None) -> dict:
    """groundingMetadata as Gemini sends it: byte offsets, zeros left out."""
    start = len(ANSWER[: ANSWER.index(PARIS)].encode())
    cafe = {"endIndex": offset_bytes + len(CAFE.encode()), "text": CAFE}
    if offset_bytes:
        cafe["startIndex"] = offset_bytes
    paris = {"startIndex": offset_bytes + start, "endIndex": offset_bytes + start + len(PARIS.encode()), "text": PARIS}
    if part is not None:
        cafe["partIndex"] = paris["partIndex"] = part
    return {
        "webSearchQueries": ["prix café paris"],
        "groundingChunks": [
            {"web": {"uri": "https://vertexaisearch.example/a", "title": "cafe.fr"}},
            {"web": {"uri": "https://vertexaisearch.example/b", "title": "insee.fr"}},
            {"web": {"uri": "https://vertexaisearch.example/c", "title": "unused.org"}},
        ],
        "groundingSupports": [
            {"segment": cafe, "groundingChunkIndices": [0], "confidenceScores": [0.9]},
            {"segment": paris, "groundingChunkIndices": [0, 1], "confidenceScores": [0.8, 0.7]},
        ],
    }


EXPECTED = [
    ("https://vertexaisearch.example/a", "cafe.fr", CAFE),
    ("https://vertexaisearch.example/a", "cafe.fr", PARIS),
    ("https://vertexaisearch.example/b", "insee.fr", PARIS),
]


def check_annotations(content: str, annotations: list) -> None:
    cited = [a for a in annotations if "start_index" in a["url_citation"]]
    assert all(a["type"] == "url_citation" for a in annotations)
    got = [
        (
            a["url_citation"]["url"],
            a["url_citation"]["title"],
            content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]],
        )
        for a in cited
    ]
    assert got == EXPECTED  # character indexes, though Gemini counts bytes (é, €)
    (uncited,) = [a for a in annotations if "start_index" not in a["url_citation"]]
    assert uncited["url_citation"] == {"url": "https://vertexaisearch.example/c", "title": "unused.org"}


def test_grounding_becomes_annotations(proxy, fake):
    reply = gemini([{"text": "Je cherche.", "thought": True}, {"text": ANSWER}])
    reply["candidates"][0]["groundingMetadata"] = grounding(part=1)  # after a thought part
    fake.reply(reply)
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, web_search_options={})
    assert sent(fake)["tools"] == [{"googleSearch": {}}]
    message = r.choices[0].message
    assert message.content == ANSWER
    check_annotations(message.content, [a.model_dump(exclude_none=True) for a in message.annotations])
    assert message.annotations[0].url_citation.start_index == 0


def test_segment_offsets_of_a_later_part(proxy, fake):
    reply = gemini([{"text": "Voilà. "}, {"text": ANSWER}])
    reply["candidates"][0]["groundingMetadata"] = grounding(part=1)  # offsets inside part 1
    fake.reply(reply)
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash-search", messages=USER)
    (call,) = fake.generate_calls
    assert call.path.endswith("/gemini-2.5-flash:generateContent") and call.json["tools"] == [{"googleSearch": {}}]
    message = r.choices[0].message
    assert message.content == "Voilà. " + ANSWER
    cited = [a.url_citation for a in message.annotations if a.url_citation.start_index is not None]
    assert [message.content[c.start_index : c.end_index] for c in cited] == [CAFE, PARIS, PARIS]


def test_streamed_grounding_is_one_annotations_delta(proxy, fake):
    pieces = ["Le café ", "coûte 3 €. ", "Paris a 2 millions d'habitants."]
    early = grounding()
    early["groundingSupports"] = early["groundingSupports"][:1]  # sent early, then resent grown
    events = [event([{"text": pieces[0]}]), event([{"text": pieces[1]}]), event([{"text": pieces[2]}], "STOP")]
    events[1]["candidates"][0]["groundingMetadata"] = early
    events[2]["candidates"][0]["groundingMetadata"] = grounding()
    fake.reply(events=events)
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER, "web_search_options": {}})
    chunks = [c for c in data(lines) if c != "[DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    (annotated,) = [i for i, d in enumerate(deltas) if "annotations" in d]
    assert chunks[annotated + 1]["choices"][0]["finish_reason"] == "stop"  # just before the finish
    content = "".join(d.get("content", "") for d in deltas)
    assert content == ANSWER
    check_annotations(content, deltas[annotated]["annotations"])


def test_grounding_after_the_finish_still_comes(proxy, fake):
    events = [event([{"text": ANSWER}], "STOP"), event([])]
    events[1]["candidates"][0]["groundingMetadata"] = grounding()
    fake.reply(events=events)
    _, lines = raw_stream(proxy, {"model": "gemini-2.5-flash", "messages": USER, "web_search_options": {}})
    deltas = [c["choices"][0]["delta"] for c in data(lines) if c != "[DONE]"]
    (annotations,) = [d["annotations"] for d in deltas if "annotations" in d]
    check_annotations(ANSWER, annotations)


def test_streamed_annotations_with_the_stream_helper(proxy, fake):
    events = [event([{"text": ANSWER[:10]}]), event([{"text": ANSWER[10:]}], "STOP")]
    events[1]["candidates"][0]["groundingMetadata"] = grounding()
    fake.reply(events=events)
    c = client(proxy)
    with c.chat.completions.stream(model="gemini-2.5-flash", messages=USER, web_search_options={}) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == ANSWER
    check_annotations(message.content, [a.model_dump(exclude_none=True) for a in message.annotations])


def test_claude_code_web_search_through_a_router(proxy, fake):
    """claude-code-router sends Anthropic's web search as a function `web_search`
    (empty description) and forces it: that is a search, not a function to call."""
    web_search = {
        "type": "function",
        "function": {
            "name": "web_search",
            "description": "",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
    reply = gemini([{"text": ANSWER}])
    reply["candidates"][0]["groundingMetadata"] = grounding()
    fake.reply(reply)
    r = client(proxy).chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Perform a web search for the query: prix du café"}],
        tools=[web_search],
        tool_choice={"type": "function", "function": {"name": "web_search"}},
    )
    body = sent(fake)
    assert body["tools"] == [{"googleSearch": {}}] and "toolConfig" not in body
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.tool_calls is None
    check_annotations(
        r.choices[0].message.content, [a.model_dump(exclude_none=True) for a in r.choices[0].message.annotations]
    )


@pytest.mark.parametrize("name", ["web_search", "google_search", "googleSearch"])
def test_search_tool_names_beside_functions(proxy, fake, name):
    tools = [
        {
            "type": "function",
            "function": {"name": name, "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        },
        {"type": "function", "function": {"name": "get_time", "description": "Now."}},
    ]
    c = client(proxy)
    c.chat.completions.create(
        model="gemini-3-pro-preview",
        messages=USER,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": name}},
    )
    body = fake.generate_calls[-1].json
    assert body["tools"] == [
        {"functionDeclarations": [{"name": "get_time", "description": "Now."}]},
        {"googleSearch": {}},
    ]
    assert "toolConfig" not in body  # forcing search is no function calling mode
    c.chat.completions.create(model="gemini-3-pro-preview", messages=USER, tools=tools, tool_choice="required")
    assert fake.generate_calls[-1].json["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


# 5. reasoning as routers send it ---------------------------------------------------------


@pytest.mark.parametrize(
    "model, reasoning, thinking",
    [
        ("gemini-2.5-flash", {"effort": "high"}, {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", {"effort": "low", "exclude": True}, {"thinkingBudget": 1024}),
        ("gemini-2.5-flash", {"max_tokens": 2000}, {"thinkingBudget": 2000, "includeThoughts": True}),
        ("gemini-2.5-flash", {"max_tokens": 2000, "effort": "high"}, {"thinkingBudget": 2000, "includeThoughts": True}),
        ("gemini-2.5-pro", {"max_tokens": 100000}, {"thinkingBudget": 32768, "includeThoughts": True}),
        ("gemini-2.5-pro", {"max_tokens": 0}, {"thinkingBudget": 128, "includeThoughts": True}),
        ("gemini-2.5-flash", {"enabled": True}, {"thinkingBudget": -1, "includeThoughts": True}),
        ("gemini-2.5-flash", {}, {"thinkingBudget": -1, "includeThoughts": True}),
        ("gemini-2.5-flash", {"enabled": False}, {"thinkingBudget": 0}),
        ("gemini-3-pro-preview", {"effort": "medium"}, {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3-flash-preview", {"max_tokens": 1000}, {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemma-3-27b-it", {"effort": "high"}, None),
    ],
)
def test_reasoning_object(proxy, fake, model, reasoning, thinking):
    client(proxy).chat.completions.create(model=model, messages=USER, extra_body={"reasoning": reasoning})
    assert sent(fake).get("generationConfig", {}).get("thinkingConfig") == thinking


def test_reasoning_effort_wins_over_the_reasoning_object(proxy, fake):
    client(proxy).chat.completions.create(
        model="gemini-2.5-flash", messages=USER, reasoning_effort="low", extra_body={"reasoning": {"effort": "high"}}
    )
    assert sent(fake)["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


@pytest.mark.parametrize(
    "reasoning, param",
    [
        ("high", "reasoning"),
        ({"effort": 3}, "reasoning.effort"),
        ({"max_tokens": -5}, "reasoning.max_tokens"),
        ({"max_tokens": "lots"}, "reasoning.max_tokens"),
    ],
)
def test_bad_reasoning_object(proxy, fake, reasoning, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(
            model="gemini-2.5-flash", messages=USER, extra_body={"reasoning": reasoning}
        )
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"
    assert fake.received == []


# 6. Images returned by tools -------------------------------------------------------------

SHOT = f"data:image/png;base64,{PNG}"
CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "screenshot", "arguments": "{}"},
        "extra_content": {"google": {"thought_signature": "c2ln"}},
    },
    {"id": "call_2", "type": "function", "function": {"name": "read", "arguments": '{"path": "a.txt"}'}},
]


def tool_turn() -> list[dict]:
    return [
        {"role": "user", "content": "Look at the screen and read a.txt."},
        {"role": "assistant", "content": None, "tool_calls": CALLS},
        {"role": "tool", "tool_call_id": "call_2", "content": "hello"},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [{"type": "text", "text": '{"ok": true}'}, {"type": "image_url", "image_url": {"url": SHOT}}],
        },
    ]


def test_tool_images_inside_the_function_response_on_gemini_3(proxy, fake):
    client(proxy).chat.completions.create(model="gemini-3-pro-preview", messages=tool_turn())
    results = sent(fake)["contents"][2]
    assert results == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "screenshot",
                    "response": {"ok": True},
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}],
                }
            },
            {"functionResponse": {"name": "read", "response": {"result": "hello"}}},
        ],
    }


def test_tool_images_after_the_function_responses_before_gemini_3(proxy, fake):
    client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=tool_turn())
    assert sent(fake)["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "screenshot", "response": {"ok": True}}},
            {"functionResponse": {"name": "read", "response": {"result": "hello"}}},
            {"inlineData": {"mimeType": "image/png", "data": PNG}},
        ],
    }


def test_langchain_tool_message_with_a_screenshot(proxy, fake):
    langchain_openai = pytest.importorskip(
        "langchain_openai", reason="langchain-openai is not installed (requirements-dev.txt)"
    )
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    llm = langchain_openai.ChatOpenAI(
        model="gemini-3-pro-preview", base_url=proxy + "/v1", api_key=KEY_A, max_retries=0
    )
    answer = llm.invoke(
        [
            HumanMessage("What is on screen?"),
            AIMessage("", tool_calls=[{"id": "call_1", "name": "screenshot", "args": {}}]),
            ToolMessage(
                [{"type": "text", "text": "Screenshot taken."}, {"type": "image_url", "image_url": {"url": SHOT}}],
                tool_call_id="call_1",
            ),
        ]
    )
    assert answer.content == "echo: What is on screen?"
    (response,) = sent(fake)["contents"][2]["parts"]
    assert response["functionResponse"]["response"] == {"result": "Screenshot taken."}
    assert response["functionResponse"]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": PNG}}]


def test_unknown_part_in_a_tool_result_is_dropped_and_named(proxy, fake):
    messages = tool_turn()
    messages[3]["content"] = [
        {"type": "text", "text": "Recorded."},
        {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}},
    ]
    answer = client(proxy).chat.completions.with_raw_response.create(model="gemini-2.5-flash", messages=messages)
    assert answer.status_code == 200 and answer.headers["x-proxy-dropped"] == "messages[3].content[1]:video_url"
    screenshot, read = sent(fake)["contents"][2]["parts"]  # no media part left after them
    assert screenshot["functionResponse"] == {"name": "screenshot", "response": {"result": "Recorded."}}
    assert read["functionResponse"]["response"] == {"result": "hello"}


# 7. Authentication and permission errors --------------------------------------------------


def test_suspended_key_is_a_permission_error(proxy, fake):
    fake.keys[KEY_A] = "forbidden"
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == 403 and caught.value.body["type"] == "permission_error"
    assert "suspended" in caught.value.message and KEY_A not in caught.value.response.text
    assert len(fake.generate_calls) == 1


def test_suspended_key_before_a_stream_is_a_permission_error(proxy, fake):
    fake.keys[KEY_A] = "forbidden"
    with pytest.raises(openai.PermissionDeniedError) as caught:
        list(client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, stream=True))
    assert caught.value.body["type"] == "permission_error" and KEY_A not in caught.value.response.text


def test_missing_credential_is_invalid_api_key(proxy, fake):
    r = httpx.post(proxy + "/v1/chat/completions", json={"model": "gemini-2.5-flash", "messages": USER})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error" and r.json()["error"]["code"] == "invalid_api_key"
    assert fake.received == []


@pytest.mark.parametrize("credential", ["wrong-token-0123456789", "AQ.not-a-token-of-this-proxy"])
def test_wrong_access_token_is_an_authentication_error(start_proxy, fake, credential):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    with pytest.raises(openai.AuthenticationError) as caught:
        client(url, api_key=credential).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.body["type"] == "authentication_error" and caught.value.body["code"] == "invalid_api_key"
    assert credential not in caught.value.response.text and TOKEN not in caught.value.response.text
    assert fake.received == []
    client(url, api_key=TOKEN).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert fake.generate_calls[-1].key == KEY_A


def test_upstream_403_body_in_openai_shape(proxy, fake):
    fake.reply(
        error_body(403, "PERMISSION_DENIED", "Generative Language API has not been used in project 1 before."),
        status=403,
    )
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER)
    assert caught.value.body == {
        "message": "Generative Language API has not been used in project 1 before.",
        "type": "permission_error",
        "param": None,
        "code": None,
    }


@pytest.mark.parametrize(
    "meta",
    [5, {"groundingChunks": "x", "groundingSupports": {"a": 1}}, {"groundingSupports": [{"groundingChunkIndices": 3}]}],
)
def test_grounding_of_an_unexpected_shape_is_ignored(proxy, fake, meta):
    reply = gemini([{"text": ANSWER}])
    reply["candidates"][0]["groundingMetadata"] = meta
    fake.reply(reply)
    r = client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=USER, web_search_options={})
    assert r.choices[0].message.content == ANSWER and r.choices[0].message.annotations == []
