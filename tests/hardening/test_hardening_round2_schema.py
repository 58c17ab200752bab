"""The schema converter, second round (issue 23): no 500 on odd `$ref` indexes, and
malformed schemas are a 400 naming the field, not forwarded to Google."""

from __future__ import annotations

import httpx
import pytest

from .test_hardening_input import CHAT, HEADERS, assert_refused, chat, tool

PROPS = {"a": {"type": "string"}}


@pytest.mark.parametrize(
    "index",
    ["9" * 5000, "²", "0²", "١", "1" * 10],
    ids=["5000-digits", "superscript", "digit-superscript", "arabic-indic", "10-digits"],
)
def test_a_ref_with_an_odd_list_index_is_not_a_500(proxy, fake, index):
    parameters = {"type": "object", "properties": {"a": {"$ref": f"#/$defs/list/{index}"}}, "$defs": {"list": [{}]}}
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(parameters)]), headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text  # a $ref to nothing is ignored, as before
    assert len(fake.generate_calls) == 1


def test_a_ref_with_a_plain_index_still_resolves(proxy, fake):
    parameters = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/list/1"}},
        "$defs": {"list": [{}, PROPS["a"]]},
    }
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(parameters)]), headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text
    sent = fake.generate_calls[0].json["tools"][0]["functionDeclarations"][0]
    schema = sent.get("parameters") or sent.get("parametersJsonSchema")
    assert schema["properties"]["a"]["type"] == "string"


@pytest.mark.parametrize(
    "parameters",
    [
        {"type": "object", "properties": {"a": {"type": [["string"]]}}},
        {"type": "object", "properties": {"a": {"type": [{"x": 1}, "string"]}}},
        {"type": {"x": 1}},
        {"type": "object", "properties": PROPS, "required": [["a"]]},
        {"type": "object", "properties": PROPS, "required": "a"},
        {"allOf": [{"type": "object", "properties": PROPS, "required": 5}]},
        {"allOf": [{"type": "object", "properties": PROPS, "required": [1]}]},
    ],
    ids=[
        "type-list-of-lists",
        "type-list-of-objects",
        "type-object",
        "required-list-of-lists",
        "required-string",
        "allOf-required-int",
        "allOf-required-list-of-int",
    ],
)
def test_a_malformed_schema_is_a_400_naming_the_field(proxy, fake, parameters):
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(parameters)]), headers=HEADERS, timeout=30)
    assert_refused(r, fake, param="tools[0].function.parameters")


def test_draft3_boolean_required_is_still_taken(proxy, fake):
    parameters = {"type": "object", "properties": {"a": {"type": "string", "required": True}}}
    r = httpx.post(proxy + CHAT, json=chat(tools=[tool(parameters)]), headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text
