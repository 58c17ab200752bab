"""Property-based tests (hypothesis) over the OpenAI chat and embeddings request shapes
and the JSON Schema converter: never a 500, never an unhandled exception, always the
API's error shape. In-process through the ASGI app (httpx.ASGITransport) for speed; the
upstream is the fake Gemini on loopback. A few seconds in all (max_examples).

No generated URL ever leads to a DNS lookup or a connection beyond loopback: media URLs
are data URLs or addresses the SSRF guard refuses before connecting.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import upstream
from handler.app import create_app
from handler.config import Settings
from handler.encoding import json_bytes
from handler.errors import BadRequest
from handler.translate.schema import TYPES, to_gemini_schema

from ..conftest import KEY_A

FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
SCHEMAS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
# Values of the wrong JSON type, with the unhashable and nested ones drawn often.
tricky = st.sampled_from([[], [[]], [["a"]], {}, {"a": []}, [1, [2]], 10**30, -1, 0, 1.5, "", "x"])
junk = st.one_of(
    tricky,
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    ),
)

# JSON Schema ------------------------------------------------------------------------------

type_names = st.sampled_from(
    ["object", "array", "string", "number", "integer", "boolean", "null", "OBJECT", "Object", "any"]
)
refs = st.sampled_from(
    [
        "#",
        "#/$defs/a",
        "#/$defs/b",
        "#/definitions/missing",
        "#/properties/x",
        "#/$defs/a/properties/0",
        "http://x/y",
        "#/%24defs/b",
    ]
)


def schema_nodes(inner):
    return st.fixed_dictionaries(
        {},
        optional={
            "type": type_names | st.lists(type_names | junk, max_size=4) | junk,
            "properties": st.dictionaries(st.text(max_size=4), inner, max_size=3) | junk,
            "items": inner | st.lists(inner, max_size=2) | junk,
            "prefixItems": st.lists(inner, max_size=2),
            "required": st.lists(st.text(max_size=4) | junk, max_size=3) | junk,
            "anyOf": st.lists(inner, max_size=3) | junk,
            "oneOf": st.lists(inner, max_size=3),
            "allOf": st.lists(inner, max_size=3) | junk,
            "$ref": refs | junk,
            "enum": st.lists(junk, max_size=3) | junk,
            "const": junk,
            "format": st.sampled_from(["date-time", "enum", "uri", "int32", "float"]) | junk,
            "description": st.text(max_size=10) | junk,
            "nullable": st.booleans() | junk,
            "minimum": junk,
            "maxLength": junk,
            "pattern": junk,
            "minItems": junk,
            "propertyOrdering": junk,
            "default": junk,
            "additionalProperties": junk,
        },
    )


schemas = st.recursive(st.just({}) | st.booleans().map(lambda _: {"type": "string"}), schema_nodes, max_leaves=12)
roots = st.builds(
    lambda node, defs: {**node, "$defs": defs},
    schemas,
    st.dictionaries(st.sampled_from(["a", "b"]), schemas, max_size=2),
)


def check_types(node) -> None:
    assert isinstance(node, dict)
    if "anyOf" in node:
        for branch in node["anyOf"]:
            check_types(branch)
        return
    assert node["type"] in TYPES
    for sub in (node.get("properties") or {}).values():
        check_types(sub)
    if node["type"] == "array":
        check_types(node["items"])


@SCHEMAS
@given(roots)
def test_schema_converter_never_raises_anything_but_a_400(schema):
    try:
        out = to_gemini_schema(schema, "tools[0].function.parameters")
    except BadRequest as exc:
        assert exc.status == 400 and exc.param == "tools[0].function.parameters"
        return
    json_bytes(out)  # always writable as JSON
    check_types(out)  # every node typed, as Gemini requires
    assert len(json_bytes(out)) < 50 * (len(json.dumps(schema)) + 100) or len(json_bytes(out)) < 4_000_000


# Requests through the app ---------------------------------------------------------------

SAFE_URLS = st.sampled_from(
    [
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/png;base64,!!",
        "data:,hi",
        "data:text/plain,a%20b",
        "http://127.0.0.1/x.png",
        "http://localhost/a.png",
        "http://169.254.169.254/",
        "ftp://x/y",
        "",
        "https://www.youtube.com/watch?v=x",
        "https://generativelanguage.googleapis.com/v1beta/files/abc",
    ]
)
parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=8) | junk}),
    st.fixed_dictionaries(
        {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": SAFE_URLS}) | SAFE_URLS | junk}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("input_audio"),
            "input_audio": st.fixed_dictionaries(
                {"data": st.text(max_size=8), "format": st.sampled_from(["wav", "mp3"])}
            )
            | junk,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("file"),
            "file": st.fixed_dictionaries(
                {},
                optional={
                    "file_data": SAFE_URLS | st.text(max_size=8),
                    "file_id": st.sampled_from(["files/abc", "x"]),
                    "filename": st.text(max_size=6),
                },
            )
            | junk,
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["video_url", "refusal", None])}),
    junk,
)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["c1", "c2"]) | junk,
            "type": st.just("function"),
            "function": st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["f", "g"]) | junk,
                    "arguments": st.sampled_from(["{}", '{"a": 1}', "[1]", "{", '{"a": 1e999}', "[" * 50 + "]" * 50])
                    | junk,
                }
            ),
        },
        optional={"extra_content": junk},
    ),
    max_size=2,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(
                ["user", "user", "system", "developer", "assistant", "assistant", "tool", "tool", "function"]
            )
        },
        optional={
            "content": st.one_of(st.text(max_size=10), st.text(max_size=10), st.lists(parts, max_size=3), junk),
            "tool_calls": tool_calls | junk,
            "tool_call_id": st.one_of(st.sampled_from(["c1", "c2"]), tricky, junk),
            "name": junk,
        },
    ),
    min_size=1,
    max_size=4,
)
numbers = st.one_of(
    st.integers(1, 8),
    st.floats(0, 1),
    st.integers(-5, 2**33),
    st.floats(-3, 3, allow_nan=False),
    st.text(max_size=3),
    st.booleans(),
)
chat_bodies = st.fixed_dictionaries(
    {"messages": messages},
    optional={
        "model": st.sampled_from(["gemini-2.5-flash", "gpt-4o", "models/gemini-2.5-pro", "gemini-3-pro-preview", ""])
        | junk,
        "temperature": numbers,
        "top_p": numbers,
        "top_k": numbers,
        "n": numbers,
        "seed": numbers,
        "max_tokens": numbers,
        "max_completion_tokens": numbers,
        "presence_penalty": numbers,
        "frequency_penalty": numbers,
        "stop": st.text(max_size=4) | st.lists(st.text(max_size=4), max_size=6) | junk,
        "stream": st.booleans() | junk,
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}) | junk,
        "tools": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries(
                        {"name": st.sampled_from(["f", "g", "googleSearch"])},
                        optional={"parameters": roots, "description": junk},
                    ),
                }
            )
            | junk,
            max_size=2,
        )
        | junk,
        "tool_choice": st.sampled_from(["auto", "none", "required", "other"])
        | st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries({"name": junk})})
        | junk,
        "response_format": st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "json_object", "json_schema", "x"])},
            optional={"json_schema": st.fixed_dictionaries({"schema": roots | junk})},
        )
        | junk,
        "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "max"]) | junk,
        "extra_body": st.fixed_dictionaries(
            {
                "google": st.fixed_dictionaries(
                    {}, optional={"thinking_config": junk, "safety_settings": junk, "cached_content": junk}
                )
            }
        )
        | junk,
        "web_search_options": junk,
    },
)
embedding_bodies = st.fixed_dictionaries(
    {"input": st.text(max_size=8) | st.lists(st.text(max_size=8) | junk, max_size=4) | junk},
    optional={
        "model": st.sampled_from(["gemini-embedding-001", "text-embedding-3-small", "models/x"]) | junk,
        "dimensions": numbers,
        "encoding_format": st.sampled_from(["float", "base64", "x"]) | junk,
        "user": junk,
    },
)


@pytest.fixture(scope="module")
def app(fake_server):
    return create_app(Settings.from_env({"GEMINI_BASE_URL": fake_server[1].url}))


def post(app, path: str, body) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # app exceptions raise here: a test failure
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
                return await client.post(
                    path,
                    content=json_bytes(body),
                    headers={"authorization": f"Bearer {KEY_A}", "content-type": "application/json"},
                )
        finally:
            await upstream.close_pool()

    return asyncio.run(go())


def assert_openai_answer(r: httpx.Response) -> None:
    assert r.status_code != 500 and r.status_code < 600, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, r.text
        assert isinstance(error["message"], str) and error["message"]
    elif r.headers["content-type"].startswith("text/event-stream"):
        assert r.text.startswith(("data:", ":")) or r.text == ""
    else:
        r.json()


@FAST
@given(chat_bodies)
def test_chat_requests_never_500(app, fake_server, body):
    fake_server[0].reset()
    assert_openai_answer(post(app, "/v1/chat/completions", body))


@FAST
@given(embedding_bodies)
def test_embedding_requests_never_500(app, fake_server, body):
    fake_server[0].reset()
    assert_openai_answer(post(app, "/v1/embeddings", body))
