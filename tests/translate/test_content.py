"""The content and usage readings every protocol shares (translate.content, translate.answers)."""

from __future__ import annotations

import pytest

from handler.errors import BadRequest
from handler.translate.answers import tokens
from handler.translate.content import listed, text_of, text_parts


def test_a_string_is_one_text_part_of_the_protocols_type():
    assert listed("hi", "input", "input_text") == [{"type": "input_text", "text": "hi"}]
    parts = [{"type": "text", "text": "a"}]
    assert listed(parts, "messages[0].content") is parts


def test_other_content_is_refused_naming_the_field_and_the_protocols_word():
    with pytest.raises(BadRequest) as info:
        listed(5, "messages.0.content", noun="content blocks")
    assert info.value.param == "messages.0.content"
    assert "list of content blocks" in info.value.message


def test_a_text_part_without_string_text_names_its_text_field():
    with pytest.raises(BadRequest) as info:
        text_of({"type": "text", "text": 3}, "messages[1].content[0]")
    assert info.value.param == "messages[1].content[0].text"


def test_text_only_content_keeps_text_and_refusals_and_drops_empty_text():
    content = [
        {"type": "output_text", "text": "a"},
        {"type": "refusal", "refusal": "no"},
        {"type": "input_text", "text": ""},
    ]
    assert text_parts(content, "input[0].content", ("input_text", "output_text")) == [{"text": "a"}, {"text": "no"}]
    with pytest.raises(BadRequest) as info:
        text_parts([{"type": "image_url"}], "messages[0].content")
    assert info.value.param == "messages[0].content[0].type"


def test_tokens_add_the_search_prompt_and_the_thoughts():
    count = tokens(
        {
            "promptTokenCount": 10,
            "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": 7,
            "thoughtsTokenCount": 3,
            "cachedContentTokenCount": 4,
        }
    )
    assert (count.prompt, count.answer, count.thoughts, count.cached) == (15, 10, 3, 4)
    assert tokens(None) == tokens({}) and tokens(None).prompt == 0
