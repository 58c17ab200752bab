"""A fake Gemini API: a real HTTP app (served by uvicorn on loopback in the tests) whose
answers follow the Gemini REST shapes (see ../shared/notes/gemini-api.md), and which
records every request it receives.

Behaviour per key (`fake.keys[key] = "..."`): "ok" (default), "invalid" (400
API_KEY_INVALID), "rate_limited" (429 per minute, retryDelay 7s), "quota_exhausted"
(429 per day), "forbidden" (403), "unavailable" (503), a behaviour for one model only
("rate_limited@gemini-2.5-flash"), "slow" (waits `slow_seconds`; `slow_done` and
`max_in_flight` record when those waits ended and how many overlapped).
Tests may queue exact replies for the generate/embed calls with `fake.reply(...)`.
Media: `:predict` (Imagen) answers `sampleCount` real PNGs; generateContent answers a
real PNG when `responseModalities` has IMAGE and real 24 kHz PCM (SPEECH_SECONDS long)
when it has AUDIO. An image for aspect ratio "W:H" is W x H pixels, so tests can check
which ratio was asked for by decoding it.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
import math
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import fake_rules as rules
from .fake_cache import ImplicitCache
from .fake_live import Live
from .fake_models import FakeModels
from .fake_resources import Projects
from .fake_speech import Speech

MAX_EMBEDDING_VALUES = 3072  # gemini-embedding-001's full size
MODELS = [
    {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": f"Fake {name}",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": methods,
    }
    for name, methods in [
        ("gemini-2.5-flash", ["generateContent", "countTokens"]),
        ("gemini-2.5-pro", ["generateContent", "countTokens"]),
        ("gemini-2.5-flash-lite", ["generateContent", "countTokens"]),
        ("gemini-3-pro-preview", ["generateContent", "countTokens"]),
        ("gemini-embedding-001", ["embedContent", "batchEmbedContents"]),
        ("gemini-3.8-flash-tts", ["generateContent", "countTokens"]),  # the speech family
        ("gemini-nano-banana-2.1", ["generateContent", "countTokens"]),  # the image family
    ]
] + [
    {
        "name": f"models/gemma-3-{i}b-it",
        "version": "001",
        "displayName": f"Gemma {i}B",
        "supportedGenerationMethods": ["generateContent"],
    }
    for i in range(1, 76)
]


def error_body(code: int, status: str, message: str, details: list | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def quota_error(per_day: bool) -> dict:
    quota_id = (
        "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        if per_day
        else "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    )
    return error_body(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": quota_id,
                        "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                        "quotaValue": "250" if per_day else "10",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "43s" if per_day else "7s"},
        ],
    )


KEY_ERRORS = {
    "invalid": (
        400,
        error_body(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        ),
    ),
    "rate_limited": (429, quota_error(per_day=False)),
    "quota_exhausted": (429, quota_error(per_day=True)),
    "forbidden": (
        403,
        error_body(403, "PERMISSION_DENIED", "Permission denied: Consumer 'api_key:x' has been suspended."),
    ),
    "unavailable": (503, error_body(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")),
}


def usage(prompt: int = 5, answer: int = 3, thoughts: int = 0) -> dict:
    meta = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt + answer + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def text_response(text: str, model: str = "gemini-2.5-flash", finish: str | None = "STOP", **meta: int) -> dict:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage(**meta),
        "modelVersion": model,
        "responseId": "fake-response-id",
    }


@dataclass
class Reply:
    """A queued answer: a JSON body, or SSE events (each a GenerateContentResponse)."""

    body: Any = None
    status: int = 200
    events: list[dict] | None = None
    delay: float = 0.0  # seconds between streamed events (before an error status: before it)
    fail_after: int | None = None  # break the connection after this many events
    method: str | None = None  # only for this call ("batchEmbedContents"); None: the next call
    model: str | None = None  # only for calls to this model (a client's side calls go elsewhere)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return self.headers.get("x-goog-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)


@dataclass
class FakeGemini:
    keys: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    stream_delay: float = 0.0
    slow_seconds: float = 5.0
    event_times: list[float] = field(default_factory=list)  # when each SSE event was sent
    slow_done: list[float] = field(default_factory=list)  # when each "slow" key's wait ended
    in_flight: int = 0  # "slow" requests waiting right now, and the most at once
    max_in_flight: int = 0
    generation: int = 0  # bumped by reset(): a slow call left over from another test is not counted
    projects: Projects = field(init=False)  # each key's files, caches, batches, interactions
    speech: Speech = field(init=False)  # TTS in both shapes, and each key's voices (fake_speech.py)
    live: Live = field(init=False)  # Live API ephemeral tokens (fake_live.py)
    cache: ImplicitCache = field(default_factory=ImplicitCache)  # per-project implicit caching (fake_cache)
    models: FakeModels = field(init=False)  # the model list and what each model refuses

    def __post_init__(self) -> None:
        self.projects = Projects(self)
        self.speech = Speech(self)
        self.live = Live(self)
        self.models = FakeModels(MODELS)

    def reset(self) -> None:
        self.projects.reset()
        self.speech.reset()
        self.live.reset()
        self.cache.reset()
        self.models.reset()
        self.keys.clear()
        self.received.clear()
        self.replies.clear()
        self.event_times.clear()
        self.slow_done.clear()
        self.in_flight = self.max_in_flight = 0
        self.generation += 1
        self.stream_delay = 0.0
        self.slow_seconds = 5.0

    def reply(self, body: Any = None, status: int = 200, **kwargs: Any) -> None:
        self.replies.append(Reply(body=body, status=status, **kwargs))

    @property
    def generate_calls(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]

    # The app ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.projects.routes(),
                *self.speech.routes(),
                *self.live.routes(),
                Route("/{version:str}/models", self.list_models, methods=["GET"]),
                Route("/{version:str}/models/{model:str}", self.get_model, methods=["GET"]),
                Route("/{version:str}/models/{call:path}", self.model_call, methods=["POST"]),
                Route("/v1beta/openai/{rest:path}", self.openai_compat, methods=["GET", "POST"]),
                Route("/upload/v1beta/files", self.upload, methods=["POST", "PUT"]),
                Route("/v1beta/files", self.list_files, methods=["GET"]),
            ]
        )

    async def _record(self, request: Request) -> Received:
        item = Received(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        self.received.append(item)
        return item

    async def _check_key(self, item: Received) -> Response | None:
        if not item.key:
            return JSONResponse(
                error_body(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                ),
                403,
            )
        behaviour, _, only = self.keys.get(item.key, "ok").partition("@")
        if only and f"/models/{only}:" not in item.path:
            behaviour = "ok"
        if behaviour == "slow":
            generation = self.generation
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.slow_seconds)
            finally:
                if generation == self.generation:
                    self.in_flight -= 1
                    self.slow_done.append(time.monotonic())
            if generation != self.generation:
                # A late call of an earlier test (its client left long ago): it must not take
                # a reply queued for the test running now.
                return Response(status_code=499)
        if behaviour in KEY_ERRORS:
            status, body = KEY_ERRORS[behaviour]
            # Like the real API, a suspended key's 403 quotes the key itself.
            return Response(
                json.dumps(body, indent=2).replace("api_key:x", f"api_key:{item.key}"),
                status,
                media_type="application/json",
            )
        return None

    async def list_models(self, request: Request) -> Response:
        item = await self._record(request)
        if (denied := await self._check_key(item)) is not None:
            return denied
        size = min(int(request.query_params.get("pageSize", 50)), 1000)
        start = int(request.query_params.get("pageToken") or 0)
        listed = self.models.entries()
        page = {"models": listed[start : start + size]}
        if start + size < len(listed):
            page["nextPageToken"] = str(start + size)
        return JSONResponse(page)

    async def get_model(self, request: Request) -> Response:
        item = await self._record(request)
        if (denied := await self._check_key(item)) is not None:
            return denied
        name = f"models/{request.path_params['model']}"
        if (model := self.models.find(name)) is not None:
            return JSONResponse(model)
        return JSONResponse(
            error_body(
                404, "NOT_FOUND", f"Model is not found: {name} for API version {request.path_params['version']}"
            ),
            404,
        )

    async def model_call(self, request: Request) -> Response:
        item = await self._record(request)
        if (denied := await self._check_key(item)) is not None:
            return denied
        if (denied := self.projects.check_refs(item.key, item.body)) is not None:
            return denied
        model, _, method = request.path_params["call"].partition(":")
        try:
            payload = json.loads(item.body or b"{}")
        except ValueError:
            return JSONResponse(error_body(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), 400)
        behaviour = self.keys.get(item.key or "", "ok")
        streamed = method == "streamGenerateContent"
        if (answer := self.models.check(model, method, payload, item.key or "", behaviour, streamed)) is not None:
            return answer
        if method in ("generateContent", "streamGenerateContent", "countTokens"):
            refused = rules.problem(
                model, payload.get("generateContentRequest", payload) if method == "countTokens" else payload
            )
            if refused is not None:
                return JSONResponse(error_body(400, "INVALID_ARGUMENT", refused), 400)
        if method in ("embedContent", "batchEmbedContents"):
            # Like the real API: no more values than the model has (3072 for gemini-embedding-001).
            for one in payload.get("requests", [payload]):
                size = one.get("outputDimensionality")
                if size is not None and not (isinstance(size, int) and 1 <= size <= MAX_EMBEDDING_VALUES):
                    return JSONResponse(
                        error_body(400, "INVALID_ARGUMENT", f"* output_dimensionality: out of range: {size}"), 400
                    )
        reply = self._next_reply(method, model)
        if method in ("generateContent", "streamGenerateContent") and (reply is None or reply.status == 200):
            self.cache.note(item.key, model, payload)
        if reply is not None and reply.status != 200:
            if reply.delay:  # an error that takes its time (a long think that fails)
                await asyncio.sleep(reply.delay)
            return JSONResponse(reply.body, reply.status)
        if reply is None and (spoken := self.speech.answer(request, method, model, payload, item.key)) is not None:
            return spoken
        if method == "generateContent":
            body = (
                reply.body
                if reply
                else media_response(payload, model) or text_response(f"echo: {last_text(payload)}", model)
            )
            return Response(json.dumps(body, indent=2), media_type="application/json")
        if method == "streamGenerateContent":
            events = (reply.events if reply and reply.events is not None else None) or [
                text_response(piece, model, finish="STOP" if i == 2 else None)
                for i, piece in enumerate(["Hello", ", world", "!"])
            ]
            delay = reply.delay if reply and reply.delay else self.stream_delay
            fail_after = reply.fail_after if reply else None
            if request.query_params.get("alt") != "sse":
                return Response(json.dumps(events, indent=2), media_type="application/json")
            return StreamingResponse(self._sse(events, delay, fail_after), media_type="text/event-stream")
        if method == "predict":  # Imagen
            if reply:
                return JSONResponse(reply.body)
            parameters = payload.get("parameters") or {}
            image = png_b64(*ratio_pixels(parameters.get("aspectRatio")))
            count = parameters.get("sampleCount", 1)
            return JSONResponse({"predictions": [{"bytesBase64Encoded": image, "mimeType": "image/png"}] * count})
        if method == "countTokens":
            counted = payload.get("generateContentRequest", payload)
            return JSONResponse({"totalTokens": len(last_text(counted).split()) or 1})
        if method == "embedContent":
            return JSONResponse(
                reply.body if reply else {"embedding": {"values": vector(payload.get("outputDimensionality"))}}
            )
        if method == "batchEmbedContents":
            if reply:
                return JSONResponse(reply.body)
            return JSONResponse(
                {
                    "embeddings": [
                        {"values": vector(r.get("outputDimensionality"), i)}
                        for i, r in enumerate(payload.get("requests", []))
                    ]
                }
            )
        return JSONResponse(error_body(404, "NOT_FOUND", f"Unknown method {method}"), 404)

    def _next_reply(self, method: str, model: str = "") -> Reply | None:
        # A reply meant for one call is not taken by another kind of call.
        for i, reply in enumerate(self.replies):
            if reply.method in (None, method) and reply.model in (None, model):
                return self.replies.pop(i)
        return None

    async def _sse(self, events: list[dict], delay: float, fail_after: int | None):
        for i, event in enumerate(events):
            if fail_after is not None and i >= fail_after:
                raise RuntimeError("fake upstream broke off the stream")
            if i and delay:
                await asyncio.sleep(delay)
            self.event_times.append(time.monotonic())
            yield f"data: {json.dumps(event, separators=(',', ':'))}\r\n\r\n".encode()

    async def openai_compat(self, request: Request) -> Response:
        item = await self._record(request)
        if not item.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse([error_body(401, "UNAUTHENTICATED", "Missing bearer")], 401)
        return JSONResponse(
            {
                "id": "chatcmpl-x",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "compat"}, "finish_reason": "stop"}
                ],
            }
        )

    async def upload(self, request: Request) -> Response:
        item = await self._record(request)
        if request.query_params.get("upload_id"):
            return JSONResponse(
                {
                    "file": {
                        "name": "files/abc",
                        "uri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                        "sizeBytes": str(len(item.body)),
                    }
                },
                headers={"x-goog-upload-status": "final"},
            )
        if (denied := await self._check_key(item)) is not None:
            return denied
        base = str(request.base_url).rstrip("/")
        return Response(
            b"",
            headers={
                "x-goog-upload-url": f"{base}/upload/v1beta/files?upload_id=UP1&upload_protocol=resumable",
                "x-goog-upload-status": "active",
            },
        )

    async def list_files(self, request: Request) -> Response:
        item = await self._record(request)
        if (denied := await self._check_key(item)) is not None:
            return denied
        return JSONResponse({"files": []})


SPEECH_SECONDS = 1.5  # how long the fake's speech lasts
SPEECH_RATE = 24000


def png(width: int, height: int) -> bytes:
    """A real PNG (8-bit RGB, a gradient) that any decoder reads."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\0" + bytes(v for x in range(width) for v in (x * 40 % 256, y * 40 % 256, 128)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_b64(width: int, height: int) -> str:
    return base64.b64encode(png(width, height)).decode()


def ratio_pixels(ratio: str | None) -> tuple[int, int]:
    """The fake draws an aspect ratio "W:H" as a W x H pixel image (1:1 when not given)."""
    width, _, height = (ratio or "1:1").partition(":")
    return int(width), int(height)


def pcm(seconds: float = SPEECH_SECONDS, rate: int = SPEECH_RATE) -> bytes:
    """Real 16-bit little-endian mono samples: a 440 Hz tone."""
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))))
    return samples.tobytes()


def media_response(payload: dict, model: str) -> dict | None:
    """Gemini's answer when generationConfig.responseModalities asks for IMAGE or AUDIO."""
    config = payload.get("generationConfig") or {}
    modalities = config.get("responseModalities") or []
    if "AUDIO" in modalities:
        parts = [
            {
                "inlineData": {
                    "mimeType": f"audio/L16;codec=pcm;rate={SPEECH_RATE}",
                    "data": base64.b64encode(pcm()).decode(),
                }
            }
        ]
    elif "IMAGE" in modalities:
        size = ratio_pixels((config.get("imageConfig") or {}).get("aspectRatio"))
        parts = [{"text": "Here is your image."}, {"inlineData": {"mimeType": "image/png", "data": png_b64(*size)}}]
    else:
        return None
    return {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage(),
        "modelVersion": model,
        "responseId": "fake-response-id",
    }


def last_text(payload: dict) -> str:
    for content in reversed(payload.get("contents") or []):
        for part in content.get("parts") or []:
            if "text" in part:
                return part["text"]
    return ""


def vector(dimensions: int | None, seed: int = 0) -> list[float]:
    return [round((seed + 1) * 0.001 * (i + 1), 6) for i in range(dimensions or 8)]
