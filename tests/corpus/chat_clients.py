"""The chat completions requests the corpus keeps, made by the installed clients (the
`openai` SDK, LangChain's ChatOpenAI) so that `python -m tests.corpus.capture
openai-chat` can record what their current releases send. Each call's answer does not
matter (a structured-output parse of the fake's echo fails): only the request is kept."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import openai
from pydantic import BaseModel

MODEL = "gemini-2.5-flash"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


class Weather(BaseModel):
    city: str
    celsius: float


def _openai_sdk(c: openai.OpenAI) -> list[Callable[[], Any]]:
    read_file = {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
                "additionalProperties": False,
            },
        },
    }
    patch = {"type": "custom", "custom": {"name": "apply_patch", "description": "Apply a patch"}}
    return [
        lambda: c.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "developer", "content": "Answer in JSON."}, {"role": "user", "content": "Weather?"}],
            response_format=Weather,
            reasoning_effort="low",
            verbosity="low",
            prompt_cache_key="sess-1",
            safety_identifier="user-hash",
            store=False,
            service_tier="auto",
            max_completion_tokens=2000,
        ),
        lambda: c.chat.completions.create(
            model=MODEL,
            stream=True,
            stream_options={"include_usage": True},
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Fix the bug in this file."},
                        {"type": "file", "file": {"file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
                    ],
                }
            ],
            tools=[read_file, patch],
            tool_choice={
                "type": "allowed_tools",
                "allowed_tools": {"mode": "auto", "tools": [read_file, patch]},
            },
            reasoning_effort="xhigh",
            prediction={"type": "content", "content": "def f(): pass"},
        ),
        lambda: c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "News about Gemini today?"}],
            web_search_options={"search_context_size": "low"},
        ),
        lambda: c.chat.completions.create(
            model=MODEL,
            modalities=["text"],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe"},
                        {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}},
                    ],
                },
                {"role": "assistant", "content": None, "audio": {"id": "audio_abc"}},
                {"role": "user", "content": "Again, shorter."},
            ],
        ),
    ]


def _langchain(base_url: str, key: str) -> list[Callable[[], Any]]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return "sunny"

    chat = ChatOpenAI(
        model=MODEL, base_url=base_url, api_key=key, reasoning_effort="medium", streaming=True, use_responses_api=False
    )
    bound = chat.bind_tools([get_weather, {"type": "web_search_preview"}], tool_choice="auto")
    history = [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}]),
        ToolMessage("sunny", tool_call_id="call_1"),
    ]
    structured = ChatOpenAI(model=MODEL, base_url=base_url, api_key=key).with_structured_output(
        Weather, method="json_schema"
    )
    return [lambda: bound.invoke(history), lambda: structured.invoke("Weather in Paris?")]


def run(base_url: str, key: str) -> None:
    """Send every kept request through the proxy at `base_url` (its /v1)."""
    calls = _openai_sdk(openai.OpenAI(base_url=base_url, api_key=key, max_retries=0))
    calls += _langchain(base_url, key)
    for call in calls:
        with contextlib.suppress(Exception):  # the answer does not matter, the request does
            result = call()
            if isinstance(result, openai.Stream):
                for _ in result:
                    pass
