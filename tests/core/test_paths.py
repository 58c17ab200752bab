"""Paths that other tools send: /gemini/v1beta/... and /gemini/v1/... (native), /hf/v1/...
(the OpenAI routes), version-less /models/{model}:{method} (Roo Code) as v1beta."""

from __future__ import annotations

import httpx
import openai
import pytest
from google import genai
from google.genai import types

from ..conftest import KEY_A

BODY = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
GEMINI = {"x-goog-api-key": KEY_A}


@pytest.mark.parametrize(
    "path, upstream",
    [
        ("/gemini/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"),
        ("/gemini/v1/models/gemini-2.5-flash:generateContent", "/v1/models/gemini-2.5-flash:generateContent"),
        ("/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"),
    ],
)
def test_native_aliases(proxy, fake, path, upstream):
    r = httpx.post(proxy + path, json=BODY, headers=GEMINI, params={"alt": "json"})
    assert r.status_code == 200 and r.json()["candidates"][0]["content"]["parts"][0]["text"] == "echo: hi there"
    (seen,) = fake.received
    assert seen.path == upstream and seen.query == {"alt": "json"} and seen.key == KEY_A


def test_version_less_stream_as_roo_code_sends_it(proxy, fake):
    r = httpx.post(
        proxy + "/models/gemini-2.5-flash:streamGenerateContent", params={"alt": "sse"}, json=BODY, headers=GEMINI
    )
    assert r.status_code == 200 and r.text.count("data: ") == 3
    assert fake.received[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


def test_gemini_prefix_lists_gemini_models_and_sdk_works(proxy, fake):
    r = httpx.get(proxy + "/gemini/v1/models", headers=GEMINI)
    assert r.status_code == 200 and r.json()["models"][0]["name"] == "models/gemini-2.5-flash"  # Gemini's shape
    client = genai.Client(
        api_key=KEY_A, http_options=types.HttpOptions(base_url=proxy + "/gemini", api_version="v1beta")
    )
    assert client.models.generate_content(model="gemini-2.5-flash", contents="yo").text == "echo: yo"
    assert fake.received[-1].path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_alias_errors_in_each_apis_shape(proxy, fake):
    r = httpx.post(proxy + "/gemini/v1beta/models/gemini-2.5-flash:generateContent", json=BODY)  # no key
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = httpx.post(proxy + "/models/gemini-2.5-flash:generateContent", json=BODY)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = httpx.post(
        proxy + "/hf/v1/chat/completions", content=b"{not json", headers={"authorization": f"Bearer {KEY_A}"}
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(proxy + "/hf/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    assert fake.received == []


def test_hf_prefix_serves_the_openai_routes(proxy, fake):
    client = openai.OpenAI(base_url=proxy + "/hf/v1", api_key=KEY_A)
    answer = client.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "echo: ping"
    assert fake.received[-1].path == "/v1beta/models/gemini-2.5-flash:generateContent"
    vectors = client.embeddings.create(model="gemini-embedding-001", input=["a", "b"])
    assert len(vectors.data) == 2 and "batchEmbedContents" in fake.received[-1].path
    models = client.models.list()
    assert "gemini-2.5-flash" in [m.id for m in models.data]
    assert client.models.retrieve("gemini-2.5-pro").id == "gemini-2.5-pro"
