"""Claude Code's gateway contract beyond /v1/messages: the `HEAD /` probe at start, model
discovery on `GET /v1/models` for an Anthropic caller (the anthropic SDK's
models.list/retrieve), `?beta=true` on the Messages path, and the error statuses and
types that make Claude Code retry on its own (429 rate_limit_error with retry-after,
529 overloaded_error)."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from ..clients import anthropic_client as client
from ..conftest import KEY_A, TOKEN
from ..fake_gemini import error_body, quota_error


def test_head_slash_answers_200(proxy):
    response = httpx.head(f"{proxy}/")
    assert response.status_code == 200


def test_models_for_an_anthropic_caller(proxy, fake):
    page = client(proxy).models.list(limit=1000)
    assert [m.id for m in page.data] == ["claude-gemini-pro", "claude-haiku-gemini-flash"]
    assert all(m.type == "model" and m.display_name for m in page.data)
    assert client(proxy).models.retrieve("claude-gemini-pro").id == "claude-gemini-pro"
    with pytest.raises(anthropic.NotFoundError) as caught:
        client(proxy).models.retrieve("claude-nothing")
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert not fake.received  # a static list: no upstream call, no key spent
    # Without anthropic-version the same path is OpenAI's list, from Gemini's own.
    openai_list = httpx.get(f"{proxy}/v1/models", headers={"authorization": f"Bearer {KEY_A}"}).json()
    assert openai_list["object"] == "list" and openai_list["data"][0]["owned_by"] == "google"


def test_operator_aliases_join_the_list(start_proxy, fake):
    url = start_proxy(MODEL_ALIASES="claude-fast=gemini-3-flash-preview,gpt-x=gemini-2.5-pro")
    ids = [m.id for m in client(url).models.list().data]
    assert ids == ["claude-gemini-pro", "claude-haiku-gemini-flash", "claude-fast"]


def test_a_closed_proxy_keeps_its_list_closed(start_proxy, fake):
    url = start_proxy(ACCESS_TOKENS=TOKEN, GEMINI_API_KEYS=KEY_A, ALLOW_CLIENT_KEYS="false")
    with pytest.raises(anthropic.AuthenticationError):
        client(url, api_key="wrong-token").models.list()
    assert client(url, api_key=TOKEN).models.list().data[0].id == "claude-gemini-pro"


def test_beta_query_is_accepted(proxy, fake):
    message = client(proxy).beta.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=32,
        messages=[{"role": "user", "content": "hi"}],
        betas=["effort-2025-11-24"],
    )
    assert message.content[0].text == "echo: hi"  # type: ignore[union-attr]
    assert fake.generate_calls[0].path.endswith(":generateContent")


def test_statuses_that_claude_code_retries(proxy, fake):
    raw = httpx.Client(base_url=proxy, headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    fake.reply(quota_error(per_day=False), status=429)
    limited = raw.post("/v1/messages?beta=true", json=body)
    assert limited.status_code == 429 and limited.json()["error"]["type"] == "rate_limit_error"
    assert limited.headers["retry-after"].isdigit()
    fake.reply(error_body(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), status=503)
    overloaded = raw.post("/v1/messages?beta=true", json=body)
    assert overloaded.status_code == 529 and overloaded.json()["error"]["type"] == "overloaded_error"


def claude_code_strips_thinking_and_retries(status: int, message: str) -> bool:
    """Claude Code 2.1.197's own test of a 400 (read from its code): on these words it
    strips the thinking blocks from its history and sends the request once more."""
    text = message.lower().replace("`", "")
    return status == 400 and (
        "signature in thinking block" in text
        or ("thinking.signature" in text and "field required" in text)
        or (("thinking block" in text or "redacted_thinking" in text) and "invalid signature" in text)
    )


@pytest.mark.parametrize(
    "gemini_says",
    [
        "Unable to submit request because Thought signature is not valid.",
        "Function call is missing a thought_signature in functionCall parts.",
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_signature_errors_use_the_words_claude_code_retries_on(proxy, fake, gemini_says, stream):
    fake.reply(error_body(400, "INVALID_ARGUMENT", gemini_says), status=400)
    body = {"model": "gemini-3-pro-preview", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        f"{proxy}/v1/messages?beta=true",
        headers={"x-api-key": KEY_A, "anthropic-version": "2023-06-01"},
        json={**body, "stream": stream},
    )
    error = response.json()["error"]
    assert response.status_code == 400 and error["type"] == "invalid_request_error"
    assert claude_code_strips_thinking_and_retries(400, error["message"]) and gemini_says in error["message"]


def test_other_400s_keep_their_words(proxy, fake):
    fake.reply(error_body(400, "INVALID_ARGUMENT", "Request contains an invalid argument."), status=400)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(proxy).messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert message == "Request contains an invalid argument." and not claude_code_strips_thinking_and_retries(
        400, message
    )
