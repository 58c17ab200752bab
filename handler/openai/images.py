"""POST /images/generations and /images/edits -> Imagen `:predict` or a Gemini image model.

Imagen answers `n` images in one call (at most IMAGEN_BATCH per call; larger `n` is
split, the calls run concurrently). A Gemini image model answers one image per call
(it takes no candidateCount with image output), so `n` calls run concurrently. Each
call has the proxy's usual key choice and failover; the first call that fails for
good decides the error (OpenAI's shape, the upstream status).

The answer is `{created, data: [{b64_json | url, revised_prompt?}]}`. `revised_prompt`
is Imagen's enhanced prompt when it sends one. Gemini's text beside an image is
commentary, not a revised prompt, so it is not returned. A prompt that Gemini blocks,
or answers that hold no image at all, give OpenAI's 400 `content_policy_violation`
with Gemini's reason; if only some of the `n` calls give an image, those are returned.
Edits (multipart uploads, or JSON with image URLs) go to a Gemini image model with the
images as parts; a `mask` (which
Gemini has no field for) follows them as one more image, introduced by a sentence
that says what it marks.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..catalog.families import resolve_family
from ..encoding import json_bytes
from ..errors import BadRequest, UpstreamFailed, json_response
from ..keys.credentials import Credentials
from ..state import settings_of
from ..translate import calls
from ..translate.answers import blocked_text
from ..translate.dropped import header as dropped_header
from ..translate.tools import DEFAULT_SAFETY
from . import multipart
from .images_request import ImageRequest, parse, parse_edit, parse_edit_json

IMAGEN_BATCH = 4  # Imagen's most images per :predict call
MASK_NOTE = (
    "The next image is a mask for the first image: change only the areas where the mask is "
    "transparent, and keep everything else as it is."
)
NO_IMAGE = "Gemini returned no image for this prompt"


async def generations(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    call = parse(await calls.read_json(request), settings_of(request.scope))
    return await _answer(request, call, creds)


async def edits(request: Request) -> Response:
    creds = await calls.credentials_of(request)
    settings = settings_of(request.scope)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        call = await parse_edit_json(await calls.read_json(request), settings)
    else:
        body = await calls.read_body(request, settings.max_body_bytes)
        call = parse_edit(await multipart.parse(content_type, body), settings)
    return await _answer(request, call, creds)


def imagen_body(call: ImageRequest, count: int) -> dict[str, Any]:
    parameters: dict[str, Any] = {"sampleCount": count}
    if call.ratio:
        parameters["aspectRatio"] = call.ratio
    if call.hi_res and call.model.startswith("imagen-4") and "fast" not in call.model:
        parameters["sampleImageSize"] = "2K"
    return {"instances": [{"prompt": call.prompt}], "parameters": parameters}


def gemini_body(call: ImageRequest) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": call.prompt}, *call.images]
    if call.mask:
        parts += [{"text": MASK_NOTE}, call.mask]
    image_config: dict[str, Any] = {}
    if call.ratio:
        image_config["aspectRatio"] = call.ratio
    if call.size:
        image_config["imageSize"] = call.size
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": config,
        "safetySettings": DEFAULT_SAFETY,
    }


def images_of(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    """(OpenAI image items without the encoding, why there are none) of one answer."""
    if not isinstance(data, dict):
        return [], None
    found: list[dict[str, Any]] = []
    reasons: list[str] = []
    for prediction in data.get("predictions") or []:  # Imagen
        if isinstance(prediction, dict) and prediction.get("bytesBase64Encoded"):
            item = {"mime": prediction.get("mimeType") or "image/png", "data": prediction["bytesBase64Encoded"]}
            if isinstance(prediction.get("prompt"), str):
                item["revised_prompt"] = prediction["prompt"]
            found.append(item)
        elif isinstance(prediction, dict) and prediction.get("raiFilteredReason"):
            reasons.append(str(prediction["raiFilteredReason"]))
    for candidate in (data.get("candidates") or [])[:1]:  # Gemini
        for part in (candidate.get("content") or {}).get("parts") or []:
            blob = part.get("inlineData")
            if (
                isinstance(blob, dict)
                and not part.get("thought")
                and str(blob.get("mimeType", "")).startswith("image/")
            ):
                found.append({"mime": blob["mimeType"], "data": blob.get("data") or ""})
        if not found and candidate.get("finishReason") not in (None, "STOP"):
            reasons.append(f"finishReason {candidate['finishReason']}")
    blocked = blocked_text(data)
    return found, blocked or ("; ".join(reasons) if reasons else None)


def _calls(call: ImageRequest) -> list[tuple[str, bytes]]:
    model = quote(call.model, safe="")
    if call.imagen:
        counts = [min(IMAGEN_BATCH, call.n - i) for i in range(0, call.n, IMAGEN_BATCH)]
        return [(f"/v1beta/models/{model}:predict", json_bytes(imagen_body(call, c))) for c in counts]
    body = json_bytes(gemini_body(call))
    return [(f"/v1beta/models/{model}:generateContent", body)] * call.n


async def _answer(request: Request, call: ImageRequest, creds: Credentials) -> Response:
    call.model = await resolve_family(request.scope, creds, call.model)  # IMAGE_MODEL may name a family
    answers, headers = await calls.call_many(request, _calls(call), creds, call.model)
    items: list[dict[str, Any]] = []
    reason = None
    for data in answers:
        try:
            found, why = images_of(data)
        except (AttributeError, TypeError, KeyError):
            raise UpstreamFailed(calls.UNEXPECTED, headers=headers) from None
        items += found
        reason = reason or why
    if not items:
        message = f"{NO_IMAGE}: {reason.rstrip('.')}." if reason else f"{NO_IMAGE}."
        raise BadRequest(message, "prompt", code="content_policy_violation", headers=headers)
    data = []
    for item in items[: call.n]:
        out = {"url": f"data:{item['mime']};base64,{item['data']}"} if call.as_url else {"b64_json": item["data"]}
        if "revised_prompt" in item:
            out["revised_prompt"] = item["revised_prompt"]
        data.append(out)
    headers |= dropped_header(call.dropped)  # taken, but Gemini has nothing to send them to (images_request.py)
    return json_response({"created": int(time.time()), "data": data}, headers=headers)
