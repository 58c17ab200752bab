"""POST /embeddings over real HTTP with the openai SDK, against the fake Gemini."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from ..clients import openai_client as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import vector

BATCH = "batchEmbedContents"


def test_sdk_default_base64_batch(proxy, fake):
    result = client(proxy + "/v1").embeddings.create(model="text-embedding-3-small", input=["one", "two", "three"])
    # The SDK asked for base64 and decoded it: the floats are Gemini's, as float32.
    assert [d.index for d in result.data] == [0, 1, 2]
    for i, item in enumerate(result.data):
        assert item.embedding == pytest.approx(vector(None, i), rel=1e-6)
    assert result.model == "gemini-embedding-001"
    assert result.usage.prompt_tokens == 0 and result.usage.total_tokens == 0
    (seen,) = fake.generate_calls  # (the model list may be read first: the default is a family)
    assert seen.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert seen.key == KEY_A
    assert seen.json == {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}}
            for t in ("one", "two", "three")
        ]
    }


def test_float_format_dimensions_and_named_gemini_model(proxy, fake):
    result = client(proxy).embeddings.create(
        model="models/gemini-embedding-001", input="hello", dimensions=4, encoding_format="float"
    )
    assert len(result.data) == 1
    assert result.data[0].embedding == vector(4)  # exact: floats pass as JSON numbers
    (seen,) = fake.received
    assert seen.json == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "hello"}]},
                "outputDimensionality": 4,
            }
        ]
    }


def test_raw_base64_is_little_endian_float32(proxy, fake):
    fake.reply({"embeddings": [{"values": [0.5, -1.25, 3.0]}], "usageMetadata": {"promptTokenCount": 7}}, method=BATCH)
    r = httpx.post(
        proxy + "/openai/v1/embeddings",
        json={"input": "x", "model": "text-embedding-004", "encoding_format": "base64"},
        headers={"authorization": f"Bearer {KEY_B}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert raw == struct.pack("<3f", 0.5, -1.25, 3.0)
    assert body["model"] == "text-embedding-004"  # a Gemini embedding model, used as named
    assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"
    assert r.headers["x-proxy-key"] == "AIzaSy...2222"
    assert fake.received[0].path == "/v1beta/models/text-embedding-004:batchEmbedContents"


def test_alias_and_long_lists_split_in_order(start_proxy, fake):
    url = start_proxy(MODEL_ALIASES="text-embedding-3-large=gemini-embedding-exp")
    inputs = [f"t{i}" for i in range(250)]
    result = client(url).embeddings.create(model="text-embedding-3-large", input=inputs, encoding_format="float")
    assert len(result.data) == 250 and [d.index for d in result.data] == list(range(250))
    assert len(fake.received) == 3
    sent = sorted((r.json["requests"] for r in fake.received), key=len, reverse=True)
    assert [len(s) for s in sent] == [100, 100, 50]
    texts = [q["content"]["parts"][0]["text"] for r in fake.received for q in r.json["requests"]]
    assert sorted(texts) == sorted(inputs)
    assert {r.path for r in fake.received} == {"/v1beta/models/gemini-embedding-exp:batchEmbedContents"}
    # Each batch answers with its own vectors; they come back in input order.
    assert result.data[0].embedding == vector(None, 0) and result.data[100].embedding == vector(None, 0)
    assert result.data[99].embedding == vector(None, 99)


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "x", "input": [1, 2, 3]}, "input"),
        ({"model": "x", "input": [[1, 2], [3]]}, "input"),
        ({"model": "x", "input": []}, "input"),
        ({"model": "x", "input": ""}, "input"),
        ({"model": "x"}, "input"),
        ({"model": "x", "input": ["a", None]}, "input"),
        ({"model": "x", "input": "a", "dimensions": 0}, "dimensions"),
        ({"model": "x", "input": "a", "dimensions": "8"}, "dimensions"),
        ({"model": "x", "input": "a", "dimensions": 2**31}, "dimensions"),  # past Gemini's int32
        ({"model": "x", "input": "a", "encoding_format": "int8"}, "encoding_format"),
    ],
)
def test_bad_input_is_400_and_nothing_goes_upstream(proxy, fake, body, param):
    r = httpx.post(proxy + "/v1/embeddings", json=body, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    assert fake.received == []


def test_more_dimensions_than_the_model_has_is_geminis_400_in_openai_shape(proxy, fake):
    r = httpx.post(
        proxy + "/v1/embeddings",
        json={"model": "gemini-embedding-001", "input": ["a", "b"], "dimensions": 5000},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and "output_dimensionality" in error["message"]
    assert len(fake.received) == 1  # sent once: a 400 is not a key's fault, no failover


def test_sdk_refuses_token_ids_as_openai_error(proxy, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).embeddings.create(model="text-embedding-3-small", input=[[101, 102]])
    assert "Token-id" in info.value.message
    assert fake.received == []


def test_malformed_json_and_missing_key(proxy, fake):
    r = httpx.post(proxy + "/embeddings", content=b"{nope", headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = httpx.post(proxy + "/embeddings", json={"input": "a"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert fake.received == []


def test_upstream_errors_keep_status_and_openai_shape(proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    with pytest.raises(openai.RateLimitError) as info:
        client(proxy).embeddings.create(model="text-embedding-3-small", input="a")
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["type"] == "rate_limit_error"
    fake.keys.clear()
    fake.reply(
        {"error": {"code": 404, "message": "models/gemini-embedding-9 is not found", "status": "NOT_FOUND"}},
        status=404,
        method=BATCH,
    )
    r = httpx.post(
        proxy + "/v1/embeddings",
        json={"input": "a", "model": "gemini-embedding-9"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "models/gemini-embedding-9 is not found",
        "type": "not_found_error",
        "param": None,
        "code": "model_not_found",
    }


def test_failover_to_next_key(proxy, fake):
    fake.keys[KEY_A] = "unavailable"
    result = client(proxy, f"{KEY_A},{KEY_B}").embeddings.create(model="x", input="a", encoding_format="float")
    assert result.data[0].embedding == vector(None)
    assert fake.received[-1].key == KEY_B


def test_unexpected_upstream_body_is_502(proxy, fake):
    fake.reply({"embeddings": []}, method=BATCH)
    r = httpx.post(proxy + "/embeddings", json={"input": ["a", "b"]}, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 502 and r.json()["error"]["type"] == "api_error"


def test_async_sdk(proxy, fake):
    import asyncio

    async def go():
        async with openai.AsyncOpenAI(base_url=proxy + "/v1", api_key=KEY_A, max_retries=0) as aclient:
            return await aclient.embeddings.create(model="gemini-embedding-001", input=["x", "y"], dimensions=3)

    result = asyncio.run(go())
    assert result.data[0].embedding == pytest.approx(vector(3, 0), rel=1e-6)
    assert result.data[1].embedding == pytest.approx(vector(3, 1), rel=1e-6)
    (seen,) = fake.received
    assert [q["outputDimensionality"] for q in seen.json["requests"]] == [3, 3]
