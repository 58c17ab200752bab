"""`POST /v1alpha/auth_tokens` for an access-token holder: Google mints an ephemeral Live
API token with a pool key, so a browser opens Google's Live WebSocket without a key
(docs/live-tokens.md). The body passes through (uses, expiry, the model lock and its
field mask as the caller asks); the answer is Google's token and never a pool key."""

from __future__ import annotations

import datetime

import httpx
import pytest
from google import genai
from google.genai import types

from ..conftest import KEY_A, KEY_B, TOKEN


def pooled(start_proxy) -> str:
    return start_proxy(GEMINI_API_KEYS=f"{KEY_A},{KEY_B}", ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")


@pytest.mark.filterwarnings("ignore:The SDK's token creation implementation is experimental")
def test_the_genai_sdk_mints_a_model_locked_token_with_a_pool_key(start_proxy, fake):
    url = pooled(start_proxy)
    client = genai.Client(api_key=TOKEN, http_options=types.HttpOptions(base_url=url, api_version="v1alpha"))
    expires = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=30)
    token = client.auth_tokens.create(
        config=types.CreateAuthTokenConfig(
            uses=1,
            expire_time=expires,
            live_connect_constraints=types.LiveConnectConstraints(
                model="gemini-live-2.5-flash-preview", config=types.LiveConnectConfig(temperature=0.7)
            ),
            lock_additional_fields=["temperature"],
        )
    )
    assert token.name and token.name.startswith("auth_tokens/")
    key, sent = fake.live.minted[token.name]
    assert key in (KEY_A, KEY_B)
    assert sent["uses"] == 1 and sent["bidiGenerateContentSetup"]["model"] == "models/gemini-live-2.5-flash-preview"
    assert "temperature" in sent["fieldMask"]
    (received,) = fake.received
    assert received.path == "/v1alpha/auth_tokens" and TOKEN not in str(received.headers)


def test_the_answer_never_holds_a_pool_key(start_proxy, fake):
    url = pooled(start_proxy)
    response = httpx.post(f"{url}/v1alpha/auth_tokens", headers={"x-goog-api-key": TOKEN}, json={"uses": 2})
    assert response.status_code == 200 and response.json()["name"].startswith("auth_tokens/")
    assert KEY_A not in response.text and KEY_B not in response.text
    assert KEY_A not in str(response.headers) and KEY_B not in str(response.headers)
    # A refused body is Google's 400, with no key in it either.
    refused = httpx.post(f"{url}/v1alpha/auth_tokens", headers={"x-goog-api-key": TOKEN}, json={"seats": 1})
    assert refused.status_code == 400 and "seats" in refused.json()["error"]["message"]
    assert KEY_A not in refused.text and KEY_B not in refused.text


def test_no_token_no_live_token(start_proxy, fake):
    url = pooled(start_proxy)
    response = httpx.post(f"{url}/v1alpha/auth_tokens", headers={"x-goog-api-key": "not-the-token"}, json={})
    assert response.status_code in (401, 403) and not fake.received
