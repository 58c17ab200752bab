"""The SDK clients the tests talk to the proxy with: real client libraries, no retries
(a retried request would hide what the proxy answered first)."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai

from .conftest import KEY_A


def openai_client(base_url: str, api_key: str = KEY_A, **kw) -> openai.OpenAI:
    """The openai SDK with `base_url` as given (the proxy's bare URL or one of its prefixes)."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, **kw)


def openai_v1(url: str, api_key: str = KEY_A, **kw) -> openai.OpenAI:
    """The openai SDK as users configure it: the proxy's URL plus /v1."""
    return openai_client(url + "/v1", api_key, **kw)


def anthropic_client(base_url: str, api_key: str = KEY_A, **kw) -> anthropic.Anthropic:
    """The anthropic SDK with the proxy as ANTHROPIC_BASE_URL."""
    return anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, **kw)


def credential_in(place: str, value: str, headers: dict[str, str], params: dict[str, str]) -> None:
    """Put a credential where a client would: `?key=`, `Authorization: Bearer`, or the named header."""
    if place == "query":
        params["key"] = value
    elif place == "bearer":
        headers["authorization"] = f"Bearer {value}"
    else:
        headers[place] = value


def timed_sse_lines(url: str, body: dict, key: str = KEY_A) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """POST a streamed call to `url` (body sent with `stream: true`); every non-empty SSE
    line with its arrival time, so a test can prove the stream was not buffered."""
    lines = []
    with httpx.stream(
        "POST", url, json={"stream": True, **body}, headers={"authorization": f"Bearer {key}"}, timeout=10
    ) as r:
        for line in r.iter_lines():
            if line:
                lines.append((time.monotonic(), line))
    return r, lines
