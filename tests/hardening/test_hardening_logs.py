"""An unhandled error is logged by its type only: no traceback, no text that may quote a
request (issue 9; logs.NoTraceback and app.server_error)."""

from __future__ import annotations

import dataclasses
import json
import logging

import httpx

from handler.encoding import json_bytes
from handler.openai import chat

from ..conftest import KEY_A

SECRET_PROMPT = "my password is hunter2"


def test_unhandled_error_logs_its_type_only(proxy, fake, caplog, monkeypatch):
    caplog.set_level(logging.INFO)

    async def broken(body, settings):
        raise RuntimeError(f"{SECRET_PROMPT} {KEY_A}")

    # The route's bundle with a request translator that breaks (routes look `create` up per request).
    monkeypatch.setattr(chat, "create", dataclasses.replace(chat.CHAT, to_gemini=broken).create)
    r = httpx.post(
        proxy + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": SECRET_PROMPT}]},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "api_error"  # OpenAI's shape on an OpenAI route
    assert SECRET_PROMPT not in r.text and KEY_A not in r.text
    text = "\n".join(record.getMessage() + json.dumps(getattr(record, "fields", {})) for record in caplog.records)
    assert "RuntimeError" in text
    assert SECRET_PROMPT not in text and KEY_A not in text and "Traceback" not in text
    assert all(record.exc_info is None and not record.exc_text for record in caplog.records)


def test_nan_is_never_written_as_a_bare_literal():
    for value in (float("nan"), float("inf"), {"temperature": float("-inf")}):
        try:
            json_bytes(value)
        except ValueError:
            continue
        raise AssertionError(f"{value!r} was written")
