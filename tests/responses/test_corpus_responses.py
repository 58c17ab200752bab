"""The corpus (tests/corpus/responses/): real requests of Codex CLI, the openai SDK, the
Agents SDK and the AI SDK's openai provider, replayed against the proxy. Each must get a
200 and exactly the `x-proxy-dropped` header its capture expects; a compaction request
gets one compaction item."""

from __future__ import annotations

import json

import pytest

from ..conftest import KEY_A
from ..corpus.replay import files, load, replay

CORPUS = files("responses")


def test_the_corpus_covers_each_client():
    clients = {load(path)["client"] for path in CORPUS}
    assert clients >= {"codex-cli", "openai-python", "openai-agents-python", "ai-sdk-openai"}


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_a_captured_request_is_answered_with_the_right_dropped_header(path, proxy, fake):
    capture = load(path)
    r = replay(proxy, capture, {"authorization": f"Bearer {KEY_A}"})
    assert len(fake.generate_calls) == 1
    if capture["body"].get("stream"):
        events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
        assert events[-1]["type"] == "response.completed"
        output = events[-1]["response"]["output"]
    else:
        output = r.json()["output"]
    if capture["expect"]["output"] == "compaction":
        (item,) = output
        assert item["type"] == "compaction" and item["encrypted_content"]
    else:
        assert output and all(item["type"] != "compaction" for item in output)
