"""Stateless compaction for Codex (handler/responses/compaction.py): an input ending in
`compaction_trigger` and `POST /v1/responses/compact` answer one `compaction` item whose
`encrypted_content` is Gemini's summary sealed under the server's secret; a later request
carrying it gets the summary back into context; an altered one is a clear 400."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from handler.responses.compaction import PREFIX, PROMPT
from handler.translate import seal

from ..clients import openai_v1
from ..conftest import KEY_A, KEY_B, TOKEN
from .test_responses import gemini

SUMMARY = "The user is fixing parse_args in cli.py; tests in test_cli.py fail on --verbose. Next: handle the flag."
HISTORY = [
    {"type": "message", "role": "developer", "content": "You are Codex."},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix the --verbose flag."}]},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking at cli.py."}]},
]


def sse(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def trigger(proxy: str, key: str = KEY_A, **extra) -> httpx.Response:
    body = {"model": "gemini-2.5-flash", "input": [*HISTORY, {"type": "compaction_trigger"}], "stream": True}
    return httpx.post(
        proxy + "/v1/responses", json={**body, **extra}, headers={"authorization": f"Bearer {key}"}, timeout=10
    )


def test_a_compaction_trigger_answers_one_sealed_compaction_item_streamed(proxy, fake):
    fake.reply(events=[gemini([{"text": SUMMARY[:40]}], None), gemini([{"text": SUMMARY[40:]}])])
    r = trigger(proxy, tools=[{"type": "function", "name": "exec_command"}], include=["reasoning.encrypted_content"])
    assert r.status_code == 200
    events = sse(r.text)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    item = events[3]["item"]
    (completed,) = events[4]["response"]["output"]
    assert completed == item and item["type"] == "compaction" and item["encrypted_content"].startswith(PREFIX)
    # Sealed: the summary is not readable in it, not even after base64.
    raw = base64.urlsafe_b64decode(item["encrypted_content"][len(PREFIX) :] + "==")
    assert SUMMARY not in item["encrypted_content"] and b"parse_args" not in raw
    # Gemini was asked for a summary of the conversation, with no tools.
    (sent,) = [c.json for c in fake.generate_calls]
    assert "tools" not in sent and "toolConfig" not in sent
    assert sent["contents"][-1] == {"role": "user", "parts": [{"text": PROMPT}]}
    assert sent["contents"][0]["parts"] == [{"text": "Fix the --verbose flag."}]


def test_a_later_request_gets_the_summary_back_into_context(proxy, fake):
    fake.reply(events=[gemini([{"text": SUMMARY}])])
    item = sse(trigger(proxy).text)[3]["item"]
    r = openai_v1(proxy).responses.create(
        model="gemini-2.5-flash",
        input=[HISTORY[0], item, {"type": "message", "role": "user", "content": "Go on."}],
    )
    assert r.status == "completed"
    sent = fake.generate_calls[-1].json
    assert SUMMARY in sent["contents"][0]["parts"][0]["text"]
    assert sent["contents"][-1] == {"role": "user", "parts": [{"text": "Go on."}]}


def test_responses_compact_round_trips_a_sealed_summary_with_the_openai_sdk(proxy, fake):
    fake.reply(gemini([{"text": SUMMARY}]))
    client = openai_v1(proxy)
    raw = client.responses.with_raw_response.compact(model="gemini-2.5-flash", input=HISTORY)
    compacted = raw.parse()
    assert compacted.object == "response.compaction" and compacted.usage.input_tokens == 5
    *kept, item = compacted.output
    assert [k.role for k in kept] == ["user"] and item.type == "compaction"
    assert item.encrypted_content.startswith(PREFIX)
    assert fake.generate_calls[-1].json["contents"][-1]["parts"][0]["text"] == PROMPT
    follow = [*json.loads(raw.text)["output"], {"role": "user", "content": "Next?"}]
    client.responses.create(model="gemini-2.5-flash", input=follow)
    texts = [p.get("text", "") for c in fake.generate_calls[-1].json["contents"] for p in c["parts"]]
    assert any(SUMMARY in t for t in texts) and "Next?" in texts


def test_an_altered_item_is_a_clear_400_and_nothing_goes_upstream(proxy, fake):
    fake.reply(events=[gemini([{"text": SUMMARY}])])
    content = sse(trigger(proxy).text)[3]["item"]["encrypted_content"]
    calls = len(fake.generate_calls)
    body = content[: len(PREFIX)]
    flipped = body + ("B" if content[len(PREFIX)] == "A" else "A") + content[len(PREFIX) + 1 :]
    client = openai_v1(proxy)
    for bad in (flipped, content[:-4], content + "AAAA", PREFIX, PREFIX + "%%%"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(
                model="gemini-2.5-flash",
                input=[{"type": "compaction", "encrypted_content": bad}, {"role": "user", "content": "hi"}],
            )
        assert caught.value.body["param"] == "input[0].encrypted_content"
        assert "cannot be opened" in caught.value.body["message"] and SUMMARY not in str(caught.value.body)
    # Sealed for one caller's keys, it does not open for another caller's.
    with pytest.raises(openai.BadRequestError):
        openai_v1(proxy, api_key=KEY_B).responses.create(
            model="gemini-2.5-flash",
            input=[{"type": "compaction", "encrypted_content": content}, {"role": "user", "content": "hi"}],
        )
    assert len(fake.generate_calls) == calls


def test_an_openai_compaction_item_is_dropped_not_refused(proxy, fake):
    r = httpx.post(
        proxy + "/v1/responses",
        json={
            "model": "gemini-2.5-flash",
            "input": [
                {"type": "compaction", "encrypted_content": "gAAAAABo-openai"},
                {"role": "user", "content": "hi"},
            ],
        },
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.headers["x-proxy-dropped"] == "input[0]:compaction"


def test_compaction_secret_rotation(start_proxy, fake):
    old = start_proxy(COMPACTION_SECRET="old-secret-0123456789")
    rotating = start_proxy(COMPACTION_SECRET="new-secret-9876543210,old-secret-0123456789")
    new_only = start_proxy(COMPACTION_SECRET="new-secret-9876543210")
    fake.reply(events=[gemini([{"text": SUMMARY}])])
    item = sse(trigger(old, key=KEY_A).text)[3]["item"]
    later = [item, {"role": "user", "content": "hi"}]
    # The secret does not depend on the caller's key once it is set...
    assert (
        openai_v1(rotating, api_key=KEY_B).responses.create(model="gemini-2.5-flash", input=later).status == "completed"
    )
    assert SUMMARY in json.dumps(fake.generate_calls[-1].json)
    # ...and an item sealed under a secret no longer configured cannot be opened.
    with pytest.raises(openai.BadRequestError):
        openai_v1(new_only).responses.create(model="gemini-2.5-flash", input=later)
    # The rotating proxy seals with its first (new) secret.
    fake.reply(events=[gemini([{"text": SUMMARY}])])
    resealed = sse(trigger(rotating).text)[3]["item"]
    assert (
        openai_v1(new_only).responses.create(model="gemini-2.5-flash", input=[resealed, later[1]]).status == "completed"
    )


def test_an_empty_summary_fails_instead_of_compacting_to_nothing(proxy, fake):
    fake.reply(events=[gemini([{"text": "", "thought": True}])])
    events = sse(trigger(proxy).text)
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    fake.reply(gemini([{"text": " "}]))
    r = httpx.post(
        proxy + "/v1/responses/compact",
        json={"model": "gemini-2.5-flash", "input": HISTORY},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 502 and "no summary" in r.json()["error"]["message"]


def test_seal_refuses_anything_it_did_not_seal():
    secret = seal.derive("k", b"label")
    sealed = seal.seal(b"summary", secret, b"purpose", "p.")
    assert seal.unseal(sealed, [seal.derive("other", b"label"), secret], b"purpose", "p.") == b"summary"
    raw = bytearray(base64.urlsafe_b64decode(sealed[2:] + "=="))
    for position in (0, 1, 20, len(raw) - 1):  # version, nonce, ciphertext, tag
        altered = bytearray(raw)
        altered[position] ^= 1
        text = "p." + base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")
        with pytest.raises(seal.Unsealable):
            seal.unseal(text, [secret], b"purpose", "p.")
    with pytest.raises(seal.Unsealable):
        seal.unseal(sealed, [secret], b"another purpose", "p.")
    assert seal.seal(b"summary", secret, b"purpose", "p.") != sealed  # a fresh nonce each time


def test_with_the_server_pool_every_container_derives_the_same_secret(start_proxy, fake):
    pool = {"GEMINI_API_KEYS": f"{KEY_A},{KEY_B}", "ACCESS_TOKENS": TOKEN}
    one = start_proxy(**pool)
    other = start_proxy(**pool, LOG_LEVEL="WARNING")  # another container of the same deployment
    elsewhere = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS="another-deployment-token-0123456789")
    fake.reply(events=[gemini([{"text": SUMMARY}])])
    item = sse(trigger(one, key=TOKEN).text)[3]["item"]
    later = [item, {"role": "user", "content": "hi"}]
    assert openai_v1(other, api_key=TOKEN).responses.create(model="gemini-2.5-flash", input=later).status == "completed"
    assert SUMMARY in json.dumps(fake.generate_calls[-1].json)
    with pytest.raises(openai.BadRequestError):
        openai_v1(elsewhere, api_key="another-deployment-token-0123456789").responses.create(
            model="gemini-2.5-flash", input=later
        )
