"""POST /embeddings -> Gemini batchEmbedContents.

- `input`: a string or a list of strings, one Gemini request each, in order. Token-id
  inputs (lists of integers) are refused with 400: Gemini embeds text, and its
  tokenizer is not OpenAI's, so the ids cannot be turned back into the text.
- Gemini takes at most `BATCH` requests per call; longer lists (LangChain sends up to
  1000) are split and the calls run concurrently, answers joined in order.
- `model`: `models/X` -> X; `MODEL_ALIASES` apply; a Gemini embedding model is used as
  named; any other name (`text-embedding-3-small`, a chat model) means the newest
  stable embedding model of the live model list (catalog.families), so OpenAI
  clients work without configuration.
- `dimensions` -> `outputDimensionality`.
- `encoding_format`: `float` (the API default) or `base64`, little-endian float32, which
  the `openai` SDK asks for by default and decodes itself.
- `usage` is always there (decision 10): Gemini's counts when it sends them, else zeros.
"""

from __future__ import annotations

import array
import base64
import re
import sys
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..catalog.families import resolve_family
from ..encoding import json_bytes
from ..errors import BadRequest, UpstreamFailed, json_response
from ..state import settings_of
from ..translate import calls, params

DEFAULT_MODEL = "embedding"  # a family: the newest stable embedding model of the live list
BATCH = 100  # Gemini's limit of requests per batchEmbedContents call
MAX_INPUTS = 2048  # OpenAI's own limit per request
EMBEDDING_MODEL = re.compile(r"(gemini-embedding-|embedding-|text-multilingual-embedding-)[\w.-]*|text-embedding-\d{3}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")


def embedding_model(name: Any, aliases: dict[str, str]) -> str:
    """The Gemini model to embed with for the `model` the client named."""
    if not isinstance(name, str):
        return DEFAULT_MODEL
    name = name.strip().removeprefix("models/")
    if name in aliases:
        name = aliases[name].removeprefix("models/")
        return name if MODEL_NAME.fullmatch(name) else DEFAULT_MODEL
    return name if EMBEDDING_MODEL.fullmatch(name) else DEFAULT_MODEL


def texts(value: Any) -> list[str]:
    """The `input` as a list of non-empty strings, or BadRequest."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadRequest("'input' must be a non-empty string or a non-empty list of strings.", "input")
    if len(value) > MAX_INPUTS:
        raise BadRequest(f"'input' may hold at most {MAX_INPUTS} items, not {len(value)}.", "input")
    for i, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise BadRequest(f"'input[{i}]' is an empty string; Gemini cannot embed nothing.", "input")
            continue
        if isinstance(item, (int, list)) and not isinstance(item, bool):
            raise BadRequest("Token-id inputs are not supported: Gemini embeds text, send 'input' as strings.", "input")
        raise BadRequest(f"'input[{i}]' must be a string.", "input")
    return value


def dimensions(value: Any) -> int | None:
    """A whole number Gemini can take (int32); how many a model gives is Gemini's to say."""
    return params.integer(value, "dimensions", 1)


def encoding(value: Any) -> str:
    if value is None:
        return "float"
    if value not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    return str(value)


def as_base64(values: list[float]) -> str:
    """The vector as base64 of little-endian float32, as OpenAI sends it."""
    packed = array.array("f", values)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def batch_body(model: str, inputs: list[str], size: int | None) -> bytes:
    extra = {"outputDimensionality": size} if size else {}
    requests = [{"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra} for text in inputs]
    return json_bytes({"requests": requests})


def _usage(answers: list[dict[str, Any]]) -> dict[str, int]:
    tokens = 0
    for answer in answers:
        meta = answer.get("usageMetadata") or {}
        count = meta.get("promptTokenCount", meta.get("totalTokenCount", 0))
        tokens += count if isinstance(count, int) else 0
    return {"prompt_tokens": tokens, "total_tokens": tokens}


async def create(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    settings = settings_of(request.scope)
    body = await calls.read_json(request)
    inputs = texts(body.get("input"))
    size = dimensions(body.get("dimensions"))
    fmt = encoding(body.get("encoding_format"))
    model = await resolve_family(request.scope, creds, embedding_model(body.get("model"), settings.model_aliases))
    path = f"/v1beta/models/{model}:batchEmbedContents"

    chunks = [inputs[i : i + BATCH] for i in range(0, len(inputs), BATCH)]
    answers, headers = await calls.call_many(
        request, [(path, batch_body(model, c, size)) for c in chunks], creds, model
    )
    vectors: list[list[float]] = []
    for data, chunk in zip(answers, chunks, strict=True):
        got = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(got, list) or len(got) != len(chunk) or not all(_is_vector(item) for item in got):
            raise UpstreamFailed("The Gemini API answered with an unexpected embeddings body.", headers=headers)
        vectors += [item.get("values") or [] for item in got]

    encode = as_base64 if fmt == "base64" else (lambda v: v)
    return json_response(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "model": model,
            "usage": _usage(answers),
        },
        headers=headers,
    )


def _is_vector(item: Any) -> bool:
    values = item.get("values", []) if isinstance(item, dict) else None
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
