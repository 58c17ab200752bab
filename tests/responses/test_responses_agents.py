"""The OpenAI Agents SDK (`openai-agents`) running an agent with a function tool against
the proxy (OpenAIResponsesModel over a custom AsyncOpenAI client; tracing disabled, so
nothing leaves loopback)."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI

from ..conftest import KEY_A
from ..fake_gemini import usage

agents = pytest.importorskip("agents", reason="openai-agents is not installed (requirements-dev.txt)")
agents.set_tracing_disabled(True)

MODEL = "gemini-3-pro-preview"
SIG = "CsYBAY89a1+agent/signature=="


def gemini(parts: list[dict], finish: str | None = "STOP") -> dict:
    candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage(), "modelVersion": MODEL, "responseId": "r"}


@agents.function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def agent(proxy: str) -> tuple[agents.Agent, AsyncOpenAI]:
    client = AsyncOpenAI(base_url=proxy + "/v1", api_key=KEY_A, max_retries=0)
    model = agents.OpenAIResponsesModel(model=MODEL, openai_client=client)
    return agents.Agent(name="Weather", instructions="Answer with the tool.", tools=[get_weather], model=model), client


def check_gemini_saw_the_tool_loop(fake) -> None:
    first, second = (call.json for call in fake.generate_calls)
    assert first["systemInstruction"] == {"parts": [{"text": "Answer with the tool."}]}
    (declaration,) = first["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "get_weather" and declaration["parameters"]["properties"]["city"]["type"] == "string"
    assert second["contents"][1:] == [
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny in Paris"}}}],
        },
    ]


def test_an_agent_with_a_function_tool(proxy, fake):
    fake.reply(gemini([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}]))
    fake.reply(gemini([{"text": "It is sunny in Paris."}]))

    async def main():
        weather, client = agent(proxy)
        try:
            return await agents.Runner.run(weather, "Weather in Paris?")
        finally:
            await client.close()

    result = asyncio.run(main())
    assert result.final_output == "It is sunny in Paris."
    check_gemini_saw_the_tool_loop(fake)


def test_a_streamed_agent_run(proxy, fake):
    fake.reply(
        events=[gemini([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}])]
    )
    fake.reply(events=[gemini([{"text": "It is sunny"}], None), gemini([{"text": " in Paris."}])])

    async def main():
        weather, client = agent(proxy)
        try:
            run = agents.Runner.run_streamed(weather, "Weather in Paris?")
            kinds = [event.type async for event in run.stream_events()]
            return run, kinds
        finally:
            await client.close()

    run, kinds = asyncio.run(main())
    assert run.final_output == "It is sunny in Paris."
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    check_gemini_saw_the_tool_loop(fake)
