"""Bad input on the OpenAI routes: a 400 (413, 415) in OpenAI's shape, nothing upstream.

Each case answered 500 (Gemini-shaped, with a traceback in the log) or went upstream
before the hardening (issue 9).
"""

from __future__ import annotations

import gzip
import json
import socket

import httpx
import pytest

from ..conftest import KEY_A

CHAT = "/v1/chat/completions"
HEADERS = {"authorization": f"Bearer {KEY_A}", "content-type": "application/json"}


def chat(**extra) -> dict:
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}], **extra}


def tool_turns(arguments="{}", result="ok", call_id="call_1") -> list[dict]:
    return [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


def post_raw(proxy: str, content: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(proxy + CHAT, content=content, headers={**HEADERS, **(headers or {})}, timeout=30)


def assert_refused(r: httpx.Response, fake, status: int = 400, param: str | None = None) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}  # OpenAI's shape, not Gemini's
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    assert fake.generate_calls == []


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"messages": "\xff\xfe"}', id="not-utf8"),
        pytest.param(json.dumps(chat(temperature=1)).replace("1}", "1" + "0" * 5000 + "}").encode(), id="5000-digits"),
        pytest.param(json.dumps(chat()).replace('"hi"', '"hi", "x": 1e400').encode(), id="1e400"),
        pytest.param(json.dumps(chat()).replace('"hi"', '"hi", "x": NaN').encode(), id="nan"),
        pytest.param(json.dumps(chat()).replace('"hi"', '"hi", "x": -Infinity').encode(), id="infinity"),
        pytest.param(json.dumps(chat()).replace('"hi"', '"\\ud800"').encode(), id="lone-surrogate"),
        pytest.param(('{"a": ' + DEEP + "}").encode(), id="deep-nesting"),
        pytest.param(b"[1, 2]", id="not-an-object"),
    ],
)
def test_malformed_bodies_are_400(proxy, fake, raw):
    assert_refused(post_raw(proxy, raw), fake)


def test_gzip_body_is_415(proxy, fake):
    r = post_raw(proxy, gzip.compress(json.dumps(chat()).encode()), {"content-encoding": "gzip"})
    assert r.status_code == 415
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert fake.generate_calls == []


def test_body_past_limit_is_413_before_it_is_read(start_proxy, fake):
    """A declared length past MAX_BODY_BYTES is refused at once: the proxy does not wait
    for (or hold) a body it will refuse."""
    proxy = start_proxy(MAX_BODY_BYTES="4096")
    port = int(proxy.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        sock.sendall(head.encode() + b'{"messages": [')
        answer = ""  # the 99.99 MB are never sent: the answer comes anyway
        while "\r\n\r\n" not in answer or len(answer.split("\r\n\r\n", 1)[1]) < int(
            answer.lower().split("content-length: ")[1].split("\r\n")[0]
        ):
            chunk = sock.recv(65536).decode()
            assert chunk, answer
            answer += chunk
    assert answer.startswith("HTTP/1.1 413")
    assert '"type":"invalid_request_error"' in answer
    r = httpx.post(proxy + CHAT, json=chat(messages=[{"role": "user", "content": "x" * 5000}]), headers=HEADERS)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"  # chunked or not
    assert fake.generate_calls == []


@pytest.mark.parametrize(
    "messages,param",
    [
        (tool_turns(call_id=["call_1"]), "messages[2].tool_call_id"),
        (tool_turns(call_id={"id": "call_1"}), "messages[2].tool_call_id"),
        (tool_turns(call_id=5), "messages[2].tool_call_id"),
        (tool_turns(arguments=DEEP), "messages[1].tool_calls[0].function.arguments"),
        (tool_turns(arguments='{"a": ' + "[" * 990 + "]" * 990 + "}"), None),
        (tool_turns(arguments='{"a": 1e999}'), "messages[1].tool_calls[0].function.arguments"),
        (tool_turns(result=DEEP), "messages[2].content"),
        (tool_turns(result='{"a": ' + "[" * 990 + "]" * 990 + "}"), None),
    ],
    ids=["id-list", "id-object", "id-number", "deep-args", "args-990", "args-1e999", "deep-result", "result-990"],
)
def test_bad_tool_turns_are_400(proxy, fake, messages, param):
    assert_refused(
        httpx.post(proxy + CHAT, json=chat(messages=messages), headers=HEADERS, timeout=30), fake, param=param
    )


def test_tool_arguments_that_are_not_json_still_go_up(proxy, fake):
    """Decision 4 holds: broken arguments text is forwarded, only JSON too deep is refused."""
    r = httpx.post(proxy + CHAT, json=chat(messages=tool_turns(arguments='{"a": 1')), headers=HEADERS)
    assert r.status_code == 200
    call = fake.generate_calls[0].json["contents"][1]["parts"][0]["functionCall"]
    assert call["args"] == {"arguments": '{"a": 1'}


@pytest.mark.parametrize(
    "field,value",
    [
        ("temperature", "hot"),
        ("temperature", -0.1),
        ("temperature", 2.5),
        ("temperature", True),
        ("top_p", 1.5),
        ("top_p", "0.9"),
        ("top_k", 0),
        ("top_k", 2.5),
        ("n", 0),
        ("n", 9),
        ("n", "2"),
        ("max_tokens", -1),
        ("max_tokens", 0),
        ("max_tokens", 2**40),
        ("max_completion_tokens", "100"),
        ("presence_penalty", 3),
        ("frequency_penalty", -2.5),
        ("seed", 2**40),
        ("seed", 1.5),
        ("stop", [1, 2]),
        ("stop", ["a", "b", "c", "d", "e", "f"]),
        ("stop", {"a": 1}),
    ],
)
def test_generation_parameters_checked_locally(proxy, fake, field, value):
    r = httpx.post(proxy + CHAT, json=chat(**{field: value}), headers=HEADERS)
    assert_refused(r, fake, param=field)
    assert field in r.json()["error"]["message"]


def test_valid_generation_parameters_go_up(proxy, fake):
    body = chat(
        temperature=0,
        top_p=1,
        top_k=40,
        n=1,
        max_tokens=2.0,
        seed=-5,
        presence_penalty=-2,
        frequency_penalty=2,
        stop="END",
    )
    r = httpx.post(proxy + CHAT, json=body, headers=HEADERS)
    assert r.status_code == 200, r.text
    config = fake.generate_calls[0].json["generationConfig"]
    assert config == {
        "temperature": 0,
        "topP": 1,
        "topK": 40,
        "candidateCount": 1,
        "maxOutputTokens": 2,
        "seed": -5,
        "presencePenalty": -2,
        "frequencyPenalty": 2,
        "stopSequences": ["END"],
    }


def tool(parameters) -> dict:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def nested_type_lists(levels: int = 9) -> dict:
    """The issue's case (under 1 kB): each level's `type` lists several spellings of "object"."""
    node: dict = {"type": "string"}
    for _ in range(levels):
        node = {"type": ["object", "OBJECT", "Object", "oBject", "objecT", "null"], "properties": {"a": node}}
    return node


def union_fan_out(levels: int = 12) -> dict:
    """Keys beside an anyOf apply to each branch: 3 ** levels nodes from a small schema."""
    node: dict = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"a": node}, "anyOf": [{"description": str(i)} for i in range(3)]}
    return node


def ref_fan_out(links: int = 25, fan: int = 3) -> dict:
    """Each definition names the next `fan` times: fan ** links nodes once expanded."""
    defs = {
        f"d{i}": {"type": "object", "properties": {f"p{j}": {"$ref": f"#/$defs/d{i + 1}"} for j in range(fan)}}
        for i in range(links)
    }
    defs[f"d{links}"] = {"type": "string"}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


@pytest.mark.parametrize(
    "schema",
    [pytest.param(ref_fan_out(), id="ref-fan-out"), pytest.param(union_fan_out(), id="union-fan-out")],
)
def test_schema_past_the_budget_is_400_naming_the_field(proxy, fake, schema):
    r = httpx.post(
        proxy + CHAT,
        json=chat(tools=[tool({"type": "object", "properties": {"x": {"type": "string"}}}), tool(schema)]),
        headers=HEADERS,
        timeout=30,
    )
    assert_refused(r, fake, param="tools[1].function.parameters")
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    r = httpx.post(proxy + CHAT, json=chat(response_format=fmt), headers=HEADERS, timeout=30)
    assert_refused(r, fake, param="response_format.json_schema.schema")


def test_nine_levels_of_type_lists_are_linear(proxy, fake):
    """The issue's 9-level schema now converts to a body of kilobytes (not 18 MB)."""
    schema = nested_type_lists(9)
    assert len(json.dumps(schema)) < 1024
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(schema)]), headers=HEADERS, timeout=30)
    assert r.status_code == 200
    assert len(fake.generate_calls[0].body) < 10_000
    params = fake.generate_calls[0].json["tools"][0]["functionDeclarations"][0]["parameters"]
    assert params["type"] == "object" and params["nullable"] is True and "anyOf" not in params


def test_text_copied_by_refs_counts_against_the_budget(proxy, fake):
    """A 100 kB description named 50 times by $ref would send 5 MB upstream."""
    defs = {"big": {"type": "string", "description": "d" * 100_000}}
    schema = {"$defs": defs, "type": "object", "properties": {f"p{i}": {"$ref": "#/$defs/big"} for i in range(50)}}
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(schema)]), headers=HEADERS, timeout=30)
    assert_refused(r, fake, param="tools[0].function.parameters")


def test_many_tools_share_one_budget(proxy, fake):
    """Each tool is within the budget on its own; together they are not."""
    each = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "d" * 150_000} for i in range(10)},
    }
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(each)]), headers=HEADERS, timeout=30)
    assert r.status_code == 200
    fake.received.clear()
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(each)] * 3), headers=HEADERS, timeout=30)
    assert_refused(r, fake, param="tools[2].function.parameters")


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"a": {"type": [[]]}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": [["a"]]},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": [{"a": 1}, "a"]},
        {"required": 5, "allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}]},
        {"properties": [1], "allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}]},
        {
            "type": "object",
            "properties": {"a": {"$ref": "#/definitions/missing/deeper"}, "b": {"$ref": "#/properties/a/0/x"}},
        },
        {"type": "object", "properties": {"a": {"$ref": 5}, "b": {"$ref": "http://example.com/x"}}},
        {"allOf": [{"$ref": "#"}], "properties": {"a": {"allOf": [{"$ref": "#"}]}}},
        {"type": "object", "properties": {"a": {"anyOf": [{"$ref": "#"}, {"type": {"x": 1}}]}}},
        json.loads('{"type": "object", "properties": {"a": ' * 40 + '{"type": {"deep": 1}}' + "}}" * 40),
        json.loads('{"type": "object", "properties": {"a": ' * 40 + '{"type": [[], 5, {}]}' + "}}" * 40),
        {"type": "array", "items": [[], 5], "enum": [[1], {"a": 1}, None]},
    ],
    ids=[
        "type-list-list",
        "required-list-list",
        "required-object",
        "required-5-allOf",
        "properties-list-allOf",
        "ref-missing",
        "ref-not-local",
        "ref-self-allOf",
        "ref-self-anyOf",
        "deep-non-string-type",
        "deep-type-junk",
        "items-junk",
    ],
)
def test_schema_fragments_of_the_wrong_type_are_not_500(proxy, fake, parameters):
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(parameters)]), headers=HEADERS, timeout=30)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:  # converted: what went up is a schema Gemini takes (the fake checks it)
        assert len(fake.generate_calls) == 1
    else:
        assert_refused(r, fake, param="tools[0].function.parameters")
