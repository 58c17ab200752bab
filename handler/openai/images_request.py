"""An OpenAI images request (generations: JSON; edits: multipart) -> what to ask Gemini.

- `model`: MODEL_ALIASES first; `imagen-...` and `gemini-...` names pass as they are;
  any other name (`dall-e-3`, `gpt-image-1`, ...) means IMAGE_MODEL, so OpenAI clients
  work without configuration.
- `n`: 1 to 10 (OpenAI's range).
- `size`: `auto` or `WIDTHxHEIGHT` -> the nearest aspect ratio the model family offers
  (Gemini does not take pixel sizes); any other text is a 400.
- `quality`: `hd`, `high` and above ask for 2K images where Gemini has a size setting
  (Imagen 4 standard/ultra, Gemini 3 image models); the other levels, and `style`
  (vivid/natural, no Gemini counterpart), change nothing.
- `response_format`: `b64_json` (the default, as gpt-image models answer) or `url`,
  answered with a data URL: a stateless proxy has nowhere to host a file, and the
  clients that ask for URLs (Cherry Studio, LobeChat, Open WebUI) show a data URL as well.
- Edits: multipart uploads (`image` / `image[]`, `mask`), or JSON with `images:
  [{"image_url": url}]` and `mask: {"image_url": url}` (OpenAI's newer form), the URLs
  data URLs or http(s) URLs fetched under media.py's guard. Images must be PNG, JPEG,
  WebP or HEIC/HEIF, recognised by their bytes, not by the declared type (SDKs often
  send application/octet-stream); anything else is a 400.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import media
from .multipart import Field

MAX_N = 10
IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
HIGH_QUALITY = frozenset({"hd", "high", "xhigh", "max"})
QUALITIES = HIGH_QUALITY | {"auto", "standard", "low", "medium"}
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


@dataclass
class ImageRequest:
    model: str
    prompt: str
    n: int
    ratio: str | None
    hi_res: bool
    as_url: bool
    images: list[dict[str, Any]] = field(default_factory=list)  # inlineData parts (edits)
    mask: dict[str, Any] | None = None

    @property
    def imagen(self) -> bool:
        return self.model.startswith("imagen-")


def image_model(name: Any, settings: Settings) -> str:
    model = name.strip().removeprefix("models/") if isinstance(name, str) else ""
    model = settings.model_aliases.get(model, model).removeprefix("models/")
    return model if model.startswith(("imagen-", "gemini-")) else settings.image_model


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    """The ratio closest to width:height (compared as logarithms, so 2:1 and 1:2 are as far from 1:1)."""
    wanted = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - wanted)

    return min(ratios, key=distance)


def _ratio(size: Any, imagen: bool) -> str | None:
    if size is None or size == "auto":
        return None
    match = _SIZE.fullmatch(size.strip()) if isinstance(size, str) else None
    if not match or not int(match[1]) or not int(match[2]):
        raise BadRequest(f"size must be 'auto' or WIDTHxHEIGHT like '1024x1024', not {str(size)[:40]!r}.", "size")
    return nearest_ratio(int(match[1]), int(match[2]), IMAGEN_RATIOS if imagen else GEMINI_RATIOS)


def _n(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_N:
        raise BadRequest(f"n must be an integer from 1 to {MAX_N}.", "n")
    return value


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str] | set[str]) -> str | None:
    value = body.get(name)
    if value is None or value in allowed:
        return value
    raise BadRequest(f"{name} must be one of {', '.join(sorted(allowed))}, not {str(value)[:40]!r}.", name)


def parse(body: dict[str, Any], settings: Settings) -> ImageRequest:
    """A generations request (or the text fields of an edits request)."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("prompt is required: a text description of the image.", "prompt")
    model = image_model(body.get("model"), settings)
    n = _n(body.get("n"))
    ratio = _ratio(body.get("size"), model.startswith("imagen-"))
    quality = _choice(body, "quality", QUALITIES)
    _choice(body, "style", {"vivid", "natural"})
    fmt = _choice(body, "response_format", {"b64_json", "url"})
    return ImageRequest(model, prompt, n, ratio, quality in HIGH_QUALITY, fmt == "url")


def image_type(data: bytes) -> str | None:
    """The media type of an image Gemini takes, from its first bytes; None if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "image/heic" if data[8:12].startswith(b"he") else "image/heif"
    return None


def _not_image(param: str, shown: str = "") -> BadRequest:
    return BadRequest(f"{param}{shown} is not an image Gemini can read: send PNG, JPEG, WebP or HEIC.", param)


def _upload(item: Field, param: str) -> dict[str, Any]:
    mime = image_type(item.data)
    if mime is None:
        raise _not_image(param, f" ({item.filename[:60]!r})" if item.filename else "")
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(item.data).decode("ascii")}}


async def _url_image(item: Any, settings: Settings, param: str) -> dict[str, Any]:
    """`{"image_url": url}` -> an inlineData image part (data URL, or fetched under the guard)."""
    url = item.get("image_url") if isinstance(item, dict) else None
    if isinstance(url, dict):  # {"image_url": {"url": ...}}, as in chat content parts
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest(f"{param}.image_url must be a data URL or an http(s) URL.", param)
    blob = (await media.url_part(url, settings, f"{param}.image_url")).get("inlineData")
    data = blob.get("data", "") if isinstance(blob, dict) else ""
    head = data[:16].replace("-", "+").replace("_", "/")  # 12 bytes: enough to tell the type
    try:
        mime = image_type(base64.b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:  # binascii.Error
        mime = None
    if mime is None:
        raise _not_image(param)
    return {"inlineData": {"mimeType": mime, "data": data}}


def _editable(request: ImageRequest, settings: Settings) -> ImageRequest:
    if request.imagen:
        raise BadRequest(
            f"{request.model} cannot edit images through the Gemini API; use a Gemini image model "
            f"(for example {settings.image_model}).",
            "model",
        )
    return request


async def parse_edit_json(body: dict[str, Any], settings: Settings) -> ImageRequest:
    """A JSON edits request: `images: [{"image_url": url}, ...]`, optional `mask`."""
    request = _editable(parse(body, settings), settings)
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise BadRequest('images is required: a list of {"image_url": url} to edit.', "images")
    request.images = [await _url_image(item, settings, f"images[{i}]") for i, item in enumerate(images)]
    if body.get("mask") is not None:
        request.mask = await _url_image(body["mask"], settings, "mask")
    return request


def parse_edit(fields: list[Field], settings: Settings) -> ImageRequest:
    """An edits request from its multipart fields: `image` or `image[]` (one or more
    files), optional `mask`, and the text fields of a generations request."""
    text: dict[str, Any] = {
        f.name: f.text for f in fields if f.filename is None and f.name not in ("image", "image[]", "mask")
    }
    if isinstance(text.get("n"), str) and text["n"].strip().isdigit():  # form fields are text
        text["n"] = int(text["n"])
    request = _editable(parse(text, settings), settings)
    uploads = [f for f in fields if f.name in ("image", "image[]")]
    if not uploads:
        raise BadRequest("image is required: one or more image files to edit.", "image")
    request.images = [_upload(f, "image") for f in uploads]
    masks = [f for f in fields if f.name == "mask"]
    if masks:
        request.mask = _upload(masks[0], "mask")
    return request
