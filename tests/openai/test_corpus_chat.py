"""The corpus (tests/corpus/openai-chat/): chat completions requests as the openai SDK,
LangChain's ChatOpenAI, the AI SDK's openai provider, LiteLLM and chat apps (Cherry
Studio, LobeChat) send them, with the part, tool and effort types they add, replayed
over HTTP through the proxy against the fake Gemini. Each must be a 200 whose
`x-proxy-dropped` names exactly what the file expects (docs/forward-compatibility.md),
streamed or not, with nothing of the client's credentials or own headers reaching Google."""

from __future__ import annotations

import json

import pytest

from ..conftest import KEY_A
from ..corpus.replay import check_sent, files, load, replay

FILES = files("openai-chat")


def test_the_corpus_covers_every_chat_client():
    clients = {load(f)["client"].split()[0] for f in FILES}
    assert {"openai-python", "langchain-openai", "ai", "litellm", "cherry-studio-like", "lobechat-like"} <= clients


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_replayed_capture(proxy, fake, path):
    capture = load(path)
    response = replay(proxy, capture, {"authorization": f"Bearer {KEY_A}"})
    if capture["body"].get("stream"):
        assert response.text.rstrip().endswith("data: [DONE]")
        assert '"chat.completion.chunk"' in response.text
    else:
        assert response.json()["object"] == "chat.completion"
    check_sent(fake, capture)
    sent_headers = fake.generate_calls[0].headers
    assert not {"authorization", "x-stainless-lang", "x-title", "http-referer"} & {k.lower() for k in sent_headers}
    assert "sk-" not in json.dumps(dict(sent_headers))
