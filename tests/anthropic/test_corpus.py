"""The corpus (tests/corpus/anthropic/): requests as Claude Code, the anthropic SDKs and
the AI SDK's Anthropic provider send them, replayed over HTTP through the proxy against
the fake Gemini (which refuses what Google refuses). Each must be a 200 whose
`x-proxy-dropped` names exactly what the file expects (docs/forward-compatibility.md),
with nothing of the client's own (betas, metadata) reaching Google."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ..conftest import KEY_A

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "anthropic"
FILES = sorted(CORPUS.glob("*.json"))


def test_the_corpus_covers_every_anthropic_client():
    clients = {load(f)["client"].split()[0] for f in FILES}
    assert {"claude-code", "anthropic-sdk-python", "anthropic-sdk-typescript", "ai"} <= clients


def load(path: Path) -> dict:
    """A capture; one made `from` another adds its `add_tools` to that one's request."""
    capture = json.loads(path.read_text())
    if "from" in capture:
        base = json.loads((CORPUS / capture["from"]).read_text())
        body = {**base["body"], "tools": base["body"]["tools"] + capture["add_tools"]}
        capture = {**base, **capture, "body": body}
    return capture


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_replayed_capture(proxy, fake, path):
    capture = load(path)
    headers = {**capture["headers"], "x-api-key": KEY_A, "content-type": "application/json"}
    with httpx.Client(base_url=proxy, timeout=30) as client:
        response = client.post(capture["path"], headers=headers, content=json.dumps(capture["body"]))
    assert response.status_code == 200, response.text[:500]
    assert response.headers.get("x-proxy-dropped", "") == capture["expect_dropped"]
    if capture["body"].get("stream"):
        assert response.text.rstrip().endswith('data: {"type":"message_stop"}')
    else:
        assert response.json()["type"] == "message"
    (sent,) = fake.generate_calls
    assert "anthropic" not in json.dumps({k: v for k, v in sent.headers.items() if k != "user-agent"})
    if "expect_tools" in capture:
        assert [key for tool in sent.json.get("tools", []) for key in tool] == capture["expect_tools"]
    for key in capture.get("expect_generation", ()):
        assert key in sent.json["generationConfig"]
