"""GET /models and /models/{id} in OpenAI's shape, and the native /v1/models for Gemini clients."""

from __future__ import annotations

import httpx
import openai
import pytest

from ..clients import openai_client as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import MODELS


def test_list_reads_every_page(proxy, fake, monkeypatch):
    from handler.openai import models

    monkeypatch.setattr(models, "PAGE_SIZE", 30)  # the fake's 82 models over three pages
    page = client(proxy + "/v1").models.list()
    ids = [m.id for m in page.data]
    assert ids == [m["name"].removeprefix("models/") for m in MODELS]
    assert len(ids) == 82 and "gemini-2.5-flash" in ids and "gemma-3-75b-it" in ids
    assert all(m.object == "model" and m.owned_by == "google" and m.created == 0 for m in page.data)
    assert [r.query for r in fake.received] == [
        {"pageSize": "30"},
        {"pageSize": "30", "pageToken": "30"},
        {"pageSize": "30", "pageToken": "60"},
    ]
    assert {r.path for r in fake.received} == {"/v1beta/models"}
    assert all(r.key == KEY_A for r in fake.received)


def test_list_asks_for_the_largest_page(proxy, fake):
    r = httpx.get(proxy + "/models", headers={"authorization": f"Bearer {KEY_B}"})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and len(body["data"]) == 82
    assert body["data"][0] == {"id": "gemini-2.5-flash", "object": "model", "created": 0, "owned_by": "google"}
    assert [r.query for r in fake.received] == [{"pageSize": "1000"}]
    assert r.headers["x-proxy-key"] == "AIzaSy...2222"


@pytest.mark.parametrize("name", ["gemini-2.5-pro", "models/gemini-2.5-pro"])
def test_retrieve_one(proxy, fake, name):
    model = client(proxy + "/openai/v1").models.retrieve(name)
    assert model.id == "gemini-2.5-pro" and model.object == "model" and model.owned_by == "google"
    (seen,) = fake.received
    assert seen.path == "/v1beta/models/gemini-2.5-pro" and seen.key == KEY_A


def test_unknown_model_is_openai_404(proxy, fake):
    with pytest.raises(openai.NotFoundError) as info:
        client(proxy + "/v1").models.retrieve("gpt-9")
    assert info.value.body["code"] == "model_not_found"
    assert info.value.body["type"] == "not_found_error"
    assert fake.received[0].path == "/v1beta/models/gpt-9"
    # A name that could not be a model never goes upstream.
    fake.received.clear()
    r = httpx.get(proxy + "/v1/models/..%2Ffiles", headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert fake.received == []


def test_upstream_errors_and_missing_key(proxy, fake):
    fake.keys[KEY_A] = "forbidden"
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(proxy).models.list()
    assert info.value.body["type"] == "permission_error"
    assert "suspended" in info.value.message
    r = httpx.get(proxy + "/v1/models")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_gemini_clients_get_the_native_list_on_v1(proxy, fake):
    r = httpx.get(proxy + "/v1/models", headers={"x-goog-api-key": KEY_A})
    assert r.status_code == 200
    assert r.json()["models"][0]["name"] == "models/gemini-2.5-flash"  # Gemini's shape, passed through
    (seen,) = fake.received
    assert seen.path == "/v1/models" and seen.query == {}
    r = httpx.get(proxy + "/v1/models/gemini-2.5-pro", params={"key": KEY_A})
    assert r.json()["name"] == "models/gemini-2.5-pro"
    assert fake.received[-1].path == "/v1/models/gemini-2.5-pro"
