"""LangChain's ChatOpenAI against the proxy: invoke, stream, and a tool round trip."""

from __future__ import annotations

import pytest

langchain_openai = pytest.importorskip(
    "langchain_openai", reason="langchain-openai is not installed (requirements-dev.txt)"
)
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

from ..conftest import KEY_A  # noqa: E402
from ..fake_gemini import usage  # noqa: E402


def chat(url: str, **kw):
    return langchain_openai.ChatOpenAI(model="gpt-4o", base_url=url + "/v1", api_key=KEY_A, max_retries=0, **kw)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_invoke_and_stream(proxy, fake):
    llm = chat(proxy, temperature=0.1)
    answer = llm.invoke([SystemMessage("Be brief."), HumanMessage("hello")])
    assert answer.content == "echo: hello"
    assert answer.usage_metadata["total_tokens"] == 8
    call = fake.generate_calls[0]
    assert call.path == "/v1beta/models/gemini-2.5-flash:generateContent"  # unknown name: DEFAULT_MODEL
    assert call.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert call.json["generationConfig"] == {"temperature": 0.1}

    pieces = [chunk.content for chunk in llm.stream("count")]
    assert "".join(pieces) == "Hello, world!"
    assert fake.generate_calls[1].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


@pytest.mark.parametrize("streaming", [False, True])
def test_tool_round_trip(proxy, fake, streaming):
    reply = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage(),
        "modelVersion": "gemini-2.5-flash",
    }
    if streaming:
        fake.reply(events=[reply])
    else:
        fake.reply(reply)
    llm = chat(proxy, streaming=streaming).bind_tools([add])
    first = llm.invoke([HumanMessage("2+3?")])
    (call,) = first.tool_calls
    assert call["name"] == "add" and call["args"] == {"a": 2, "b": 3}
    declaration = fake.generate_calls[0].json["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "add" and declaration["description"] == "Add two integers."
    assert set(declaration["parameters"]["properties"]) == {"a", "b"}

    llm.invoke(
        [HumanMessage("2+3?"), first, ToolMessage(content=str(add.invoke(call["args"])), tool_call_id=call["id"])]
    )
    contents = fake.generate_calls[1].json["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "add", "response": {"result": 5}}}]}
