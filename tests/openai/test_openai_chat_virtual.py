"""The chat route's virtual model names `<model>-image` and `<model>-non-thinking`."""

from __future__ import annotations

import base64
import re

import pytest

from ..clients import openai_client as client
from .test_openai_images import png_size

USER = [{"role": "user", "content": "draw a cat"}]


def test_image_suffix_asks_for_images_and_returns_markdown_data_uris(proxy, fake):
    answer = client(proxy + "/v1").chat.completions.create(model="gemini-2.0-flash-exp-image", messages=USER)
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.0-flash-exp:generateContent"
    assert call.json["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}
    content = answer.choices[0].message.content
    match = re.fullmatch(r"Here is your image\.!\[image\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", content)
    assert match and png_size(base64.b64decode(match[1])) == (1, 1)


def test_real_image_model_name_is_kept(proxy, fake):
    client(proxy).chat.completions.create(model="gemini-2.5-flash-image", messages=USER)
    (call,) = fake.generate_calls
    assert call.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert "generationConfig" not in call.json


@pytest.mark.parametrize(
    "asked, model, thinking",
    [
        ("gemini-2.5-flash-non-thinking", "gemini-2.5-flash", {"thinkingBudget": 0}),
        ("gemini-2.5-pro-non-thinking", "gemini-2.5-pro", {"thinkingBudget": 128}),  # cannot turn it off
        ("gemini-3-pro-preview-non-thinking", "gemini-3-pro-preview", {"thinkingLevel": "low"}),
        ("gemini-2.5-flash-non-thinking-search", "gemini-2.5-flash", {"thinkingBudget": 0}),
    ],
)
def test_non_thinking_suffix(proxy, fake, asked, model, thinking):
    client(proxy).chat.completions.create(model=asked, messages=USER)
    (call,) = fake.generate_calls
    assert call.path == f"/v1beta/models/{model}:generateContent"
    assert call.json["generationConfig"] == {"thinkingConfig": thinking}
    assert ("tools" in call.json) == asked.endswith("-search")


def test_explicit_reasoning_effort_wins_over_the_suffix(proxy, fake):
    client(proxy).chat.completions.create(model="gemini-2.5-flash-non-thinking", messages=USER, reasoning_effort="high")
    assert fake.generate_calls[0].json["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 24576,
        "includeThoughts": True,
    }
