"""Replaying the corpus (docs/forward-compatibility.md): one capture, posted over HTTP to
the proxy as its client sent it (with a test credential), answered with the status and
the exact `x-proxy-dropped` the capture expects, and the one Gemini request it made
checked against the capture's `expect_tools` / `expect_generation`. Shared by the
Messages, Responses and chat corpus tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

CORPUS = Path(__file__).resolve().parent


def files(protocol: str) -> list[Path]:
    """The captures of one protocol (`anthropic`, `responses`, `openai-chat`)."""
    return sorted((CORPUS / protocol).glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """A capture; one made `from` another adds its `add_tools` to that one's request."""
    capture: dict[str, Any] = json.loads(path.read_text())
    if "from" in capture:
        base = json.loads((path.parent / capture["from"]).read_text())
        body = {**base["body"], "tools": base["body"]["tools"] + capture["add_tools"]}
        capture = {**base, **capture, "body": body}
    return capture


def expected(capture: dict[str, Any]) -> tuple[int, str]:
    """(status, x-proxy-dropped) the capture expects; both file shapes (`expect_dropped`,
    or an `expect` object) are read, no header being `""`."""
    expect = capture.get("expect", {})
    dropped = capture["expect_dropped"] if "expect_dropped" in capture else expect.get("x-proxy-dropped")
    return expect.get("status", 200), dropped or ""


def replay(proxy: str, capture: dict[str, Any], credential: dict[str, str]) -> httpx.Response:
    """Post the capture; assert the status and the dropped header it expects."""
    headers = {**capture["headers"], **credential, "content-type": "application/json"}
    with httpx.Client(base_url=proxy, timeout=30) as client:
        response = client.post(capture["path"], headers=headers, content=json.dumps(capture["body"]))
    status, dropped = expected(capture)
    assert response.status_code == status, response.text[:500]
    assert response.headers.get("x-proxy-dropped", "") == dropped, response.headers.get("x-proxy-dropped")
    return response


def check_sent(fake: Any, capture: dict[str, Any]) -> dict[str, Any]:
    """The one Gemini request the replay made, checked against the capture's
    `expect_tools` (the Gemini tools, in order) and `expect_generation` (fields of
    generationConfig that must be there)."""
    (sent,) = fake.generate_calls
    payload: dict[str, Any] = sent.json
    if "expect_tools" in capture:
        assert [key for tool in payload.get("tools", []) for key in tool] == capture["expect_tools"]
    for key in capture.get("expect_generation", ()):
        assert key in payload["generationConfig"], (key, payload["generationConfig"])
    return payload
