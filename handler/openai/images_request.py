"""An OpenAI images request (generations: JSON; edits: multipart) -> what to ask Gemini.

- `model`: MODEL_ALIASES first; `imagen-...` and `gemini-...` names pass as they are;
  any other name (`dall-e-3`, `gpt-image-1`, ...) means IMAGE_MODEL, so OpenAI clients
  work without configuration.
- `n`: 1 to 10 (OpenAI's range).
- The model's table (`table_of`: ratios, sizes, input images) follows the model:
  Imagen 5 ratios; Gemini 2.x image models 10 ratios and no size setting; Gemini 3.0
  image models 10 ratios and 1K/2K/4K; Nano Banana 2.1 (`gemini-nano-banana-2.1`), and
  any newer or unversioned Gemini image model, 14 ratios (adding 1:4, 4:1, 1:8, 8:1),
  1K/2K/4K and up to MAX_INPUT_IMAGES reference images.
- `size`: `auto`; `WIDTHxHEIGHT` -> the nearest ratio of the model's table (compared as
  logarithms) and the size class of its longer side (up to 1792: 1K, Gemini's default,
  not sent; up to 3072: 2K; more: 4K); a ratio `W:H` of the table; or a size label
  `1K`/`2K`/`4K`. `512` / `0.5K` (which Nano Banana 2.1 refuses) and any other text are
  a 400 that lists what is offered. OpenAI's small sizes (256x256, 512x512, of dall-e-2)
  get 1K, the nearest. A size class on a model without a size setting is dropped and
  named in the `x-proxy-dropped` response header.
- `quality`: `hd`, `high` and above ask for at least 2K where the model has a size
  setting (Imagen 4 standard/ultra, Gemini 3 and later image models); the other
  levels, and `style` (vivid/natural, no Gemini counterpart), change nothing.
- gpt-image parameters: `background` `auto`/`opaque` (Gemini's images are opaque) are
  taken, `transparent` is a 400 (Gemini cannot make transparent images);
  `output_format` `png` is taken, `jpeg`/`webp` are a 400 (Gemini answers PNG and this
  proxy carries no image encoder); `output_compression` (0-100, only for jpeg/webp) and
  `input_fidelity` (edits) are dropped and named in `x-proxy-dropped`; `moderation`
  `auto`/`low` are both the proxy's usual safety settings (every filter off: Gemini's
  own policy still applies).
- Every choice must be a string: a list or an object is a 400, never a 500.
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
from ..translate.thinking import gemini_version
from .multipart import Field

MAX_N = 10
MAX_INPUT_IMAGES = 14  # reference images (a mask included) on an edit
IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
WIDE_RATIOS = (*GEMINI_RATIOS, "1:4", "4:1", "1:8", "8:1")
SIZES = ("1K", "2K", "4K")
HIGH_QUALITY = frozenset({"hd", "high", "xhigh", "max"})
QUALITIES = HIGH_QUALITY | {"auto", "standard", "low", "medium"}
REFUSED_SIZES = frozenset({"512", "0.5K", "512PX"})
_RATIO = re.compile(r"(\d{1,2}):(\d{1,2})")
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


@dataclass(frozen=True)
class ImageTable:
    """What one image model family offers."""

    ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # imageSize values it takes (none: no size setting)


IMAGEN = ImageTable(IMAGEN_RATIOS, ())
GEMINI_2 = ImageTable(GEMINI_RATIOS, ())
GEMINI_3 = ImageTable(GEMINI_RATIOS, SIZES)
NANO_BANANA_2_1 = ImageTable(WIDE_RATIOS, SIZES)


def table_of(model: str) -> ImageTable:
    if model.startswith("imagen-"):
        return IMAGEN
    version = gemini_version(model)
    if version is not None and version < (3, 0):
        return GEMINI_2
    return GEMINI_3 if version == (3, 0) else NANO_BANANA_2_1


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
    size: str | None = None  # Gemini's imageSize (2K, 4K); None: the model's default
    dropped: list[str] = field(default_factory=list)  # parameters taken but not sent

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


def size_class(width: int, height: int) -> str:
    """Gemini's size class for a pixel size, by its longer side (see the docstring)."""
    longer = max(width, height)
    return "1K" if longer <= 1792 else "2K" if longer <= 3072 else "4K"


def _size(size: Any, model: str, table: ImageTable) -> tuple[str | None, str | None]:
    """(aspect ratio, size class) for OpenAI's `size`; None where it asks for none."""
    if size is None or size == "auto":
        return None, None
    text = size.strip() if isinstance(size, str) else ""
    label = text.upper()
    offered = f"sizes: auto, WIDTHxHEIGHT like '1024x1024', a ratio ({', '.join(table.ratios)})"
    offered += f" or {', '.join(table.sizes)}" if table.sizes else ""
    if label in SIZES:
        return None, label
    if label in REFUSED_SIZES:
        raise BadRequest(f"size {text!r} is not offered by {model} (512 px images are refused); {offered}.", "size")
    if _RATIO.fullmatch(text):
        if text not in table.ratios:
            raise BadRequest(f"aspect ratio {text!r} is not offered by {model}; {offered}.", "size")
        return text, None
    match = _SIZE.fullmatch(text)
    if not match or not int(match[1]) or not int(match[2]):
        shown = repr(size)[:40] if isinstance(size, str) else f"a value of type {type(size).__name__}"
        raise BadRequest(f"size {shown} is not understood; {offered}.", "size")
    width, height = int(match[1]), int(match[2])
    return nearest_ratio(width, height, table.ratios), size_class(width, height)


def _n(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_N:
        raise BadRequest(f"n must be an integer from 1 to {MAX_N}.", "n")
    return value


def _choice(body: dict[str, Any], name: str, allowed: frozenset[str] | set[str], why: str = "") -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and value in allowed):
        return value
    shown = repr(value)[:40] if isinstance(value, str) else f"a value of type {type(value).__name__}"
    raise BadRequest(f"{name} must be one of {', '.join(sorted(allowed))}, not {shown}{why}.", name)


def _gpt_image(body: dict[str, Any], dropped: list[str]) -> None:
    """gpt-image's parameters: taken, dropped (named in `dropped`) or refused."""
    _choice(body, "background", {"auto", "opaque"}, " (Gemini cannot make transparent images)")
    _choice(body, "output_format", {"png"}, " (Gemini answers PNG, and this proxy converts no images)")
    _choice(body, "moderation", {"auto", "low"})
    compression = body.get("output_compression")
    if compression is not None:
        if isinstance(compression, bool) or not isinstance(compression, int) or not 0 <= compression <= 100:
            raise BadRequest("output_compression must be an integer from 0 to 100.", "output_compression")
        dropped.append("output_compression")
    if _choice(body, "input_fidelity", {"low", "high"}) is not None:
        dropped.append("input_fidelity")


def parse(body: dict[str, Any], settings: Settings) -> ImageRequest:
    """A generations request (or the text fields of an edits request)."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("prompt is required: a text description of the image.", "prompt")
    model = image_model(body.get("model"), settings)
    table = table_of(model)
    n = _n(body.get("n"))
    ratio, size = _size(body.get("size"), model, table)
    quality = _choice(body, "quality", QUALITIES)
    _choice(body, "style", {"vivid", "natural"})
    fmt = _choice(body, "response_format", {"b64_json", "url"})
    dropped: list[str] = []
    _gpt_image(body, dropped)
    hi_res = quality in HIGH_QUALITY or size in ("2K", "4K")
    if size in ("2K", "4K") and not table.sizes and table is not IMAGEN:
        dropped.append("size")
    if quality in HIGH_QUALITY and size in (None, "1K"):
        size = "2K"
    if not table.sizes or size == "1K":
        size = None
    return ImageRequest(model, prompt, n, ratio, hi_res, fmt == "url", size=size, dropped=dropped)


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


def _count(images: int, mask: bool) -> None:
    if images + mask > MAX_INPUT_IMAGES:
        what = f"{images} images and a mask" if mask else f"{images} images"
        raise BadRequest(
            f"An edit takes at most {MAX_INPUT_IMAGES} input images (a mask counts as one), not {what}.", "image"
        )


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
    _count(len(images), body.get("mask") is not None)
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
    for name in ("n", "output_compression"):  # form fields are text
        if isinstance(text.get(name), str) and text[name].strip().isdigit():
            text[name] = int(text[name])
    request = _editable(parse(text, settings), settings)
    uploads = [f for f in fields if f.name in ("image", "image[]")]
    if not uploads:
        raise BadRequest("image is required: one or more image files to edit.", "image")
    masks = [f for f in fields if f.name == "mask"]
    _count(len(uploads), bool(masks))
    request.images = [_upload(f, "image") for f in uploads]
    if masks:
        request.mask = _upload(masks[0], "mask")
    return request
