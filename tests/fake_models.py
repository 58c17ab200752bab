"""The fake Gemini's models: which are listed, and what each one refuses (hooked into
fake_gemini.FakeGemini as `fake.models`).

- `LEGACY` (the default): the list the older tests were written against (2.5 models);
  `fake.models.use(MODERN)`: several generations and no Gemini 2.5 model, as in
  December 2026; a model not listed then answers 404, like a retired one;
- `retire(name)`: the model leaves the list and answers 404 NOT_FOUND at once;
- paid-tier models (`PAID_ONLY`) refuse a key whose behaviour is "free": Carbon with
  403 PERMISSION_DENIED, Argon with a 429 whose quota limit is 0;
- sampling parameters (temperature, topP, topK) are refused by Gemini 4 and the 3.8
  TTS models; a thinking level a model lacks is refused with the levels it takes
  (3.8 Flash: no `minimal`; only Hydrogen takes `xhigh`);
- long decode (Gemini 4): a prompt containing "long answer" is answered over `hops`
  hops, each ending with CONTINUATION and a `continuationToken` bound to the key that
  made it, the last with STOP; a non-streamed call asking for more than 32,768 output
  tokens is refused, like the real API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from handler.catalog import families

GENERATE = ["generateContent", "countTokens"]
EMBED = ["embedContent", "batchEmbedContents"]
MODERN_NAMES = [
    ("gemini-3.5-flash", GENERATE),
    ("gemini-3.5-flash-lite", GENERATE),
    ("gemini-3.6-flash", GENERATE),
    ("gemini-3.7-flash", GENERATE),
    ("gemini-3.8-flash", GENERATE),
    ("gemini-3.8-flash-lite", GENERATE),
    ("gemini-3.8-flash-tts", GENERATE),
    ("gemini-3.8-flash-lite-tts", GENERATE),
    ("gemini-3.9-flash-preview", GENERATE),
    ("gemini-3.1-pro", GENERATE),
    ("gemini-4-argon", GENERATE),
    ("gemini-4-carbon", GENERATE),
    ("gemini-4-hydrogen", GENERATE),
    ("gemini-4-hydrogen-live", ["bidiGenerateContent"]),
    ("gemini-nano-banana-2.1", GENERATE),
    ("gemini-flash-latest", GENERATE),
    ("gemini-embedding-001", EMBED),
]
MODERN = [
    {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": methods,
    }
    for name, methods in MODERN_NAMES
]
PAID_ONLY = {"gemini-4-carbon": 403, "gemini-4-argon": 429}
SAMPLING = ("temperature", "topP", "topK")
UNARY_LIMIT = 32768
LONG_PROMPT = "long answer"
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def version(model: str) -> tuple[int, int]:
    match = _VERSION.match(model)
    return (int(match[1]), int(match[2] or 0)) if match else (0, 0)


def refuses_sampling(model: str) -> bool:
    return version(model) >= (4, 0) or ("-tts" in model and version(model) >= (3, 8))


def levels(model: str) -> tuple[str, ...] | None:
    """The thinking levels the fake's Gemini 3.8+ and 4 models take (None: not checked)."""
    if version(model) >= (4, 0):
        return ("LOW", "MEDIUM", "HIGH", "XHIGH") if "hydrogen" in model else ("LOW", "MEDIUM", "HIGH")
    if version(model) >= (3, 8) and "-flash" in model and "-pro" not in model:
        return ("LOW", "MEDIUM", "HIGH")
    return None


def error(code: int, status: str, message: str, details: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, code)


def zero_quota(model: str) -> JSONResponse:
    return error(
        429,
        "RESOURCE_EXHAUSTED",
        f"Quota exceeded for metric: generate_content_free_tier_requests, limit: 0, model: {model}",
        [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "0",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
        ],
    )


def last_text(payload: dict) -> str:
    for content in reversed(payload.get("contents") or []):
        for part in content.get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                return part["text"]
    return ""


@dataclass
class FakeModels:
    legacy: list[dict]
    listed: list[dict] = field(default_factory=list)
    modern: bool = False
    retired: set[str] = field(default_factory=set)
    hops: int = 3  # hops of a long-decode answer
    hop_delay: float = 0.0  # seconds between a hop's streamed events
    tokens: dict[str, str] = field(default_factory=dict)  # continuation token -> key
    event_times: list[float] = field(default_factory=list)  # when each long-decode event was sent

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.listed = list(self.legacy)
        self.modern = False
        self.retired.clear()
        self.hops = 3
        self.hop_delay = 0.0
        self.tokens.clear()
        self.event_times.clear()

    def use(self, models: list[dict]) -> None:
        """Serve `models` (MODERN: models not listed answer 404)."""
        self.listed = list(models)
        self.modern = True

    def retire(self, name: str) -> None:
        self.retired.add(name)
        self.listed = [m for m in self.listed if m["name"] != f"models/{name}"]

    def entries(self) -> list[dict]:
        return self.listed

    def find(self, name: str) -> dict | None:
        return next((m for m in self.listed if m["name"] == name), None)

    def check(self, model: str, method: str, payload: dict, key: str, behaviour: str, streamed: bool):
        """A refusal or a long-decode answer for a generate call, or None (the fake goes on)."""
        if method not in ("generateContent", "streamGenerateContent", "countTokens"):
            return None
        listed = any(m["name"] == f"models/{model}" for m in self.listed)
        if model in self.retired or (self.modern and model.startswith("gemini-") and not listed):
            return error(
                404,
                "NOT_FOUND",
                f"models/{model} is not found for API version v1beta, or is not supported for generateContent.",
            )
        if method == "countTokens":  # counting costs nothing: open to every tier
            return None
        if behaviour == "free" and model in PAID_ONLY:
            if PAID_ONLY[model] == 429:
                return zero_quota(model)
            return error(403, "PERMISSION_DENIED", f"This model ({model}) is available on the paid tier only.")
        config = payload.get("generationConfig") or {}
        if refuses_sampling(model):
            for name in SAMPLING:
                if name in config:
                    return error(400, "INVALID_ARGUMENT", f"{name} is not supported by models/{model}.")
        level = (config.get("thinkingConfig") or {}).get("thinkingLevel")
        allowed = levels(model)
        if isinstance(level, str) and allowed is not None and level.upper() not in allowed:
            return error(
                400,
                "INVALID_ARGUMENT",
                f"Thinking level {level.upper()} is not supported by models/{model}. "
                f"Supported thinking levels: {', '.join(allowed)}.",
            )
        token = config.get("continuationToken", config.get("continuation_token"))
        if version(model) < (4, 0):
            return None
        if not streamed and isinstance(config.get("maxOutputTokens"), int) and config["maxOutputTokens"] > UNARY_LIMIT:
            return error(
                400,
                "INVALID_ARGUMENT",
                f"max_output_tokens must be at most {UNARY_LIMIT} for a non-streaming request; stream instead.",
            )
        if token is None and LONG_PROMPT not in last_text(payload):
            return None
        return self.long_answer(model, token, key, streamed)

    def long_answer(self, model: str, token: Any, key: str, streamed: bool) -> Response:
        hop = 1
        if token is not None:
            if not isinstance(token, str) or token not in self.tokens:
                return error(400, "INVALID_ARGUMENT", "Invalid continuation token.")
            if self.tokens[token] != key:
                return error(403, "PERMISSION_DENIED", "The continuation token belongs to another project.")
            hop = int(token.split("-")[1]) + 1
        last = hop >= self.hops
        new_token = None
        if not last:
            new_token = f"ld-{hop}-{hashlib.sha256(key.encode()).hexdigest()[:8]}-{len(self.tokens)}"
            self.tokens[new_token] = key
        pieces = [f"[hop {hop} a]", f"[hop {hop} b]"]
        events = []
        for i, piece in enumerate(pieces):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
            if i == len(pieces) - 1:
                candidate["finishReason"] = "STOP" if last else "CONTINUATION"
                if new_token:
                    candidate["continuationToken"] = new_token
            events.append(
                {
                    "candidates": [candidate],
                    "usageMetadata": {
                        "promptTokenCount": 10,
                        "candidatesTokenCount": 100 * (i + 1),
                        "totalTokenCount": 10 + 100 * (i + 1),
                    },
                    "modelVersion": model,
                    "responseId": f"long-{hop}",
                }
            )
        if not streamed:
            whole = dict(events[-1])
            whole["candidates"] = [
                {**events[-1]["candidates"][0], "content": {"role": "model", "parts": [{"text": "".join(pieces)}]}}
            ]
            return Response(json.dumps(whole, indent=2), media_type="application/json")
        return StreamingResponse(self._sse(events), media_type="text/event-stream")

    async def _sse(self, events: list[dict]) -> Any:
        for i, event in enumerate(events):
            if i and self.hop_delay:
                await asyncio.sleep(self.hop_delay)
            self.event_times.append(time.monotonic())
            yield f"data: {json.dumps(event, separators=(',', ':'))}\r\n\r\n".encode()


@contextmanager
def resolved(models: list[dict] | None = None, keys: tuple[str, ...] = ()) -> Iterator[families.Resolution]:
    """For unit tests that call a request translator directly: families resolved
    against `models` (by default the fake's legacy list), as a request would."""
    from .fake_gemini import MODELS

    store = families.Families(ttl=3600.0)
    store.store([(m["name"], m.get("supportedGenerationMethods")) for m in (models or MODELS)])
    resolution = families.Resolution(store, keys)
    token = families._current.set(resolution)
    try:
        yield resolution
    finally:
        families._current.reset(token)
