"""The corpus (tests/corpus/anthropic/): requests as Claude Code, the anthropic SDKs and
the AI SDK's Anthropic provider send them, replayed over HTTP through the proxy against
the fake Gemini (which refuses what Google refuses). Each must be a 200 whose
`x-proxy-dropped` names exactly what the file expects (docs/forward-compatibility.md),
with nothing of the client's own (betas, metadata) reaching Google."""

from __future__ import annotations

import json

import pytest

from ..conftest import KEY_A
from ..corpus.replay import check_sent, files, load, replay

FILES = files("anthropic")


def test_the_corpus_covers_every_anthropic_client():
    clients = {load(f)["client"].split()[0] for f in FILES}
    assert {"claude-code", "anthropic-sdk-python", "anthropic-sdk-typescript", "ai"} <= clients


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_replayed_capture(proxy, fake, path):
    capture = load(path)
    response = replay(proxy, capture, {"x-api-key": KEY_A})
    if capture["body"].get("stream"):
        assert response.text.rstrip().endswith('data: {"type":"message_stop"}')
    else:
        assert response.json()["type"] == "message"
    check_sent(fake, capture)
    sent = fake.generate_calls[0]
    assert "anthropic" not in json.dumps({k: v for k, v in sent.headers.items() if k != "user-agent"})
