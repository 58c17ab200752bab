"""Unit tests of the protocol-neutral core: Gemini's error parsed once, the cooldown
memory, SSE parsing, error shapes, thinking and model names, start-up."""

from __future__ import annotations

import contextvars
import json

import pytest

from handler.config import Settings
from handler.errors import BadRequest, ProxyError, UpstreamFailed, body_for, shape_for, status_for
from handler.keys import cooldown as policy
from handler.keys.cooldown import Cooldown
from handler.sse import EventParser, frame
from handler.translate import dropped
from handler.translate.models import resolve_model, resolve_virtual
from handler.translate.thinking import budget_config, thinking_config
from handler.upstream.gemini_error import duration_seconds, parse

from ..fake_gemini import KEY_ERRORS, quota_error
from ..fake_models import resolved


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Gemini's error ---------------------------------------------------------------------------


def test_quota_error_is_parsed_once_into_its_parts():
    error = parse(429, json.dumps(quota_error(per_day=True)).encode())
    assert (error.status, error.retry_delay, error.per_day, error.quota_model) == (429, 43.0, True, "gemini-2.5-flash")
    assert "exceeded your current quota" in error.message and not error.invalid_key


def test_invalid_key_reason():
    status, body = KEY_ERRORS["invalid"]
    error = parse(status, json.dumps(body).encode())
    assert error.invalid_key and error.reason == "API_KEY_INVALID" and error.key_is_bad


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"",
        b'{"error": "text"}',
        b'[{"error": {"code": 429, "message": "listed"}}]',
        b'{"error": {"details": "not a list", "message": 5}}',
        b'{"error": {"details": [{"@type": "RetryInfo", "retryDelay": "soon"}, {"violations": {"a": 1}}]}}',
        b'{"error": {"details": [{"@type": "x.RetryInfo", "retryDelay": 1e400}]}}',
        b"[" * 100_000,
    ],
)
def test_odd_error_bodies_never_raise(body):
    error = parse(429, body)
    assert error.status == 429 and error.retry_delay is None and not error.per_day


def test_list_wrapped_error_from_the_openai_compatible_endpoint():
    assert parse(429, b'[{"error": {"code": 429, "message": "listed"}}]').message == "listed"


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("37s", 37.0),
        ("1.5s", 1.5),
        (" 2s ", 2.0),
        (3, 3.0),
        ("soon", None),
        ("-1s", None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_one_duration_parser(value, seconds):
    assert duration_seconds(value) == seconds


# The cooldown memory ----------------------------------------------------------------------


def test_a_429_cools_one_model_an_invalid_key_every_model():
    clock = Clock()
    memory = Cooldown(clock)
    memory.remember("K1", parse(429, json.dumps(quota_error(per_day=False)).encode()), "gemini-2.5-flash")
    assert memory.until("K1", "gemini-2.5-flash") == clock.now + 7
    assert memory.until("K1", "gemini-2.5-pro") == 0.0  # other models keep the key
    assert memory.order(("K1", "K2"), "gemini-2.5-pro").count("K1") == 1
    status, body = KEY_ERRORS["invalid"]
    memory.remember("K2", parse(status, json.dumps(body).encode()), "gemini-2.5-flash")
    assert memory.until("K2", "gemini-2.5-pro") == clock.now + policy.INVALID_KEY
    clock.now += 8
    assert memory.until("K1", "gemini-2.5-flash") == 0.0  # expired


def test_strangers_keys_never_push_out_the_pools():
    memory = Cooldown()
    memory.cool("pool-key-0000000000000001", 600, owned=True)
    for i in range(policy.MAX_FOREIGN * 3):
        memory.cool(f"made-up-key-{i:08d}-xxxxxxxx", 600)
    assert memory.until("pool-key-0000000000000001") > 0
    assert len(memory.snapshot()) == policy.MAX_FOREIGN + 1


def test_a_longer_cooldown_is_not_shortened():
    clock = Clock()
    memory = Cooldown(clock)
    memory.cool("K", 3600, reason="quota_exhausted")
    memory.cool("K", 7, reason="rate_limited")
    assert memory.until("K") == clock.now + 3600 and memory.snapshot()[0]["reason"] == "quota_exhausted"


# SSE ----------------------------------------------------------------------------------------


def test_events_split_anywhere_and_crlf():
    stream = b'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\ndata: {"c":3}'
    parser = EventParser()
    got = []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    got += parser.close()
    assert [json.loads(g) for g in got] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_frames():
    assert frame({"x": "é"}) == 'data: {"x":"é"}\n\n'.encode()
    assert frame({"type": "ping"}, "ping") == b'event: ping\ndata: {"type":"ping"}\n\n'


# Error shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, shape",
    [
        ("/v1beta/models/x:generateContent", "gemini"),
        ("/v1/models/x:streamGenerateContent", "gemini"),
        ("/models/x:generateContent", "gemini"),
        ("/v1/models/x", "openai"),
        ("/v1/chat/completions", "openai"),
        ("/openai/v1/whatever", "openai"),
        ("/v1/messages", "anthropic"),
        ("/messages/count_tokens", "anthropic"),
        ("/nothing", "gemini"),
    ],
)
def test_shape_for(path, shape):
    assert shape_for(path) == shape


def test_the_same_error_in_three_shapes():
    exc = BadRequest("messages is required.", "messages")
    assert body_for("openai", exc) == {
        "error": {
            "message": "messages is required.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }
    assert body_for("anthropic", exc) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages is required."},
    }
    assert body_for("gemini", exc) == {
        "error": {"code": 400, "message": "messages is required.", "status": "INVALID_ARGUMENT"}
    }


def test_upstream_statuses_per_shape():
    overloaded = UpstreamFailed("The model is overloaded.", status=503)
    assert (status_for("anthropic", overloaded), body_for("anthropic", overloaded)["error"]["type"]) == (
        529,
        "overloaded_error",
    )
    assert status_for("openai", overloaded) == 503
    invalid = UpstreamFailed("API key not valid.", status=400, invalid_key=True)
    assert status_for("openai", invalid) == status_for("anthropic", invalid) == 401
    assert status_for("gemini", invalid) == 400
    assert body_for("openai", ProxyError("slow down", status=429))["error"]["code"] == "rate_limit_exceeded"


# Thinking and model names ---------------------------------------------------------------


@pytest.mark.parametrize(
    "budget, model, config",
    [
        (None, "gemini-2.5-flash", {"thinkingBudget": -1, "includeThoughts": True}),
        (0, "gemini-2.5-pro", {"thinkingBudget": 128, "includeThoughts": True}),  # 2.5 Pro cannot turn it off
        (0, "gemini-2.5-flash", {"thinkingBudget": 0}),
        (100_000, "gemini-2.5-flash", {"thinkingBudget": 24576, "includeThoughts": True}),
        (2048, "gemini-3-pro-preview", {"thinkingLevel": "low", "includeThoughts": True}),
        (10_000, "gemini-3-pro-preview", {"thinkingLevel": "high", "includeThoughts": True}),  # 3.0 Pro: low, high
        (0, "gemini-3-flash", {"thinkingLevel": "minimal"}),
        (5000, "gemma-3-27b-it", None),
    ],
)
def test_budget_config(budget, model, config):
    assert budget_config(budget, model) == config


def test_effort_config_drops_new_levels_and_refuses_malformed_ones():
    def noted() -> list[str]:  # in a copy of the context, as a request has its own
        names = dropped.start()
        assert thinking_config("extreme", "gemini-2.5-flash", "reasoning.effort") is None  # newer than the proxy
        return names

    assert contextvars.copy_context().run(noted) == ["reasoning.effort:extreme"]
    with pytest.raises(BadRequest) as caught:
        thinking_config(3, "gemini-2.5-flash", "reasoning.effort")
    assert caught.value.param == "reasoning.effort"


def test_aliases_with_wildcards_in_order():
    settings = Settings.from_env(
        {"MODEL_ALIASES": "claude-*haiku*=gemini-2.5-flash,claude-*=models/gemini-2.5-pro,gpt-4o=gemini-2.5-pro"}
    )
    assert resolve_model("claude-haiku-4-5-20251001", settings) == ("gemini-2.5-flash", False)
    assert resolve_model("claude-sonnet-4-5-20250929", settings) == ("gemini-2.5-pro", False)
    assert resolve_model("gpt-4o", settings) == ("gemini-2.5-pro", False)
    assert resolve_model("gemini-3-pro-preview-search", settings) == ("gemini-3-pro-preview", True)
    with resolved():  # DEFAULT_MODEL names a family: the newest stable flash of the list
        assert resolve_model("unknown", settings) == ("gemini-2.5-flash", False)
    assert resolve_virtual("gemini-2.5-flash-image", settings) == ("gemini-2.5-flash-image", set())
    assert resolve_virtual("gemini-2.0-flash-exp-image", settings) == ("gemini-2.0-flash-exp", {"image"})


# Start-up ---------------------------------------------------------------------------------
def test_start_up_heap_is_frozen_a_moment_after_start_and_the_client_stays_small():
    """In a fresh process (tests start many apps in one): the lifespan freezes the heap
    for the collector; importing the app loads no third-party HTTP client."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import asyncio, gc, sys\n"
        "from handler.app import app\n"
        "print(gc.get_freeze_count(), sorted(m for m in ('aiohttp', 'httpx', 'yarl') if m in sys.modules))\n"
        "async def main():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        await asyncio.sleep(0.3)\n"
        "        print(gc.get_freeze_count() > 10000)\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["0 []", "True"]
