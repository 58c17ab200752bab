"""POST /images/generations and /images/edits over real HTTP with the openai SDK.

The fake Gemini draws an aspect ratio "W:H" as a real W x H pixel PNG, so decoding the
returned bytes proves both that they are an image and which ratio was asked for.
"""

from __future__ import annotations

import base64
import struct
import zlib

import httpx
import openai
import pytest

from ..clients import openai_client as client
from ..conftest import KEY_A, KEY_B
from ..fake_gemini import png, png_b64

PROMPT = "a lighthouse at dusk"
GEMINI_DEFAULT = "/v1beta/models/gemini-nano-banana-2.1:generateContent"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(64)


def png_size(data: bytes) -> tuple[int, int]:
    """Decode a PNG (8-bit RGB, as the fake makes): check every chunk's CRC and that
    the pixel data inflates to exactly height rows of width pixels; (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2) and b"IEND" in chunks
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    return width, height


def image_parts(call) -> list[dict]:
    return call.json["contents"][0]["parts"]


# Generations ---------------------------------------------------------------------------


def test_openai_name_goes_to_the_default_gemini_image_model(proxy, fake):
    result = client(proxy + "/v1").images.generate(model="dall-e-3", prompt=PROMPT, size="1792x1024")
    (item,) = result.data
    assert png_size(base64.b64decode(item.b64_json)) == (16, 9)  # 1792x1024 -> 16:9
    assert item.url is None and item.revised_prompt is None
    assert result.created > 0
    (call,) = fake.generate_calls
    assert call.path == GEMINI_DEFAULT and call.key == KEY_A
    assert call.json["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]
    assert call.json["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9"},
    }


def test_n_images_from_a_gemini_model_are_n_calls(proxy, fake):
    result = client(proxy).images.generate(
        model="gemini-2.5-flash-image", prompt=PROMPT, n=3, size="1024x1024", quality="hd"
    )
    assert [png_size(base64.b64decode(d.b64_json)) for d in result.data] == [(1, 1)] * 3
    assert len(fake.generate_calls) == 3
    for call in fake.generate_calls:
        assert call.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
        # 2.5 has no imageSize setting: quality changes nothing there.
        assert call.json["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1"}


def test_gemini_3_image_model_gets_2k_for_high_quality(proxy, fake):
    client(proxy).images.generate(model="gemini-3-pro-image-preview", prompt=PROMPT, quality="high", size="auto")
    (call,) = fake.generate_calls
    assert call.json["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"imageSize": "2K"},
    }


def test_imagen_predict_batches_ratio_size_and_data_urls(proxy, fake):
    result = client(proxy + "/openai/v1").images.generate(
        model="imagen-4.0-generate-001", prompt=PROMPT, n=6, size="1024x1792", quality="hd", response_format="url"
    )
    assert len(result.data) == 6
    for item in result.data:
        assert item.b64_json is None and item.url.startswith("data:image/png;base64,")
        assert png_size(base64.b64decode(item.url.split(",", 1)[1])) == (9, 16)
    calls = fake.generate_calls
    assert {c.path for c in calls} == {"/v1beta/models/imagen-4.0-generate-001:predict"}
    counts = sorted(c.json["parameters"]["sampleCount"] for c in calls)
    assert counts == [2, 4]
    for c in calls:
        assert c.json["instances"] == [{"prompt": PROMPT}]
        assert c.json["parameters"]["aspectRatio"] == "9:16" and c.json["parameters"]["sampleImageSize"] == "2K"


def test_imagen_ratios_and_revised_prompt(proxy, fake):
    fake.reply(
        {
            "predictions": [
                {"bytesBase64Encoded": png_b64(4, 3), "mimeType": "image/png", "prompt": "A tall lighthouse."}
            ]
        },
        method="predict",
    )
    result = client(proxy).images.generate(model="imagen-3.0-generate-002", prompt=PROMPT, size="1536x1024")
    assert result.data[0].revised_prompt == "A tall lighthouse."
    (call,) = fake.generate_calls
    # 3:2 is not an Imagen ratio: the nearest one is 4:3. Imagen 3 has no 2K size.
    assert call.json["parameters"] == {"sampleCount": 1, "aspectRatio": "4:3"}


@pytest.mark.parametrize("prefix", ["", "/v1", "/openai/v1", "/hf/v1"])
def test_every_prefix(proxy, fake, prefix):
    r = httpx.post(
        proxy + prefix + "/images/generations",
        json={"prompt": PROMPT, "model": "imagen-3.0-generate-002"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200, r.text
    assert png_size(base64.b64decode(r.json()["data"][0]["b64_json"])) == (1, 1)
    assert [c.path for c in fake.received] == ["/v1beta/models/imagen-3.0-generate-002:predict"]


def test_aliases_and_image_model_setting(start_proxy, fake):
    url = start_proxy(MODEL_ALIASES="dall-e-3=imagen-4.0-fast-generate-001", IMAGE_MODEL="gemini-2.5-flash-image")
    client(url).images.generate(model="dall-e-3", prompt=PROMPT, quality="hd")
    client(url).images.generate(model="gpt-image-1", prompt=PROMPT)
    first, second = fake.generate_calls
    assert first.path == "/v1beta/models/imagen-4.0-fast-generate-001:predict"
    assert first.json["parameters"] == {"sampleCount": 1}  # no 2K on the fast model
    assert second.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"


def test_blocked_prompt_is_a_content_policy_400(proxy, fake):
    fake.reply({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {}}, method="generateContent")
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).images.generate(model="dall-e-3", prompt=PROMPT)
    assert info.value.body["code"] == "content_policy_violation"
    assert "PROHIBITED_CONTENT" in info.value.body["message"]
    fake.reply({"predictions": [{"raiFilteredReason": "Unsafe image"}]}, method="predict")
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).images.generate(model="imagen-3.0-generate-002", prompt=PROMPT)
    assert "Unsafe image" in info.value.body["message"]


def test_upstream_error_keeps_status_and_failover_works(cooldown, proxy, fake):
    fake.keys[KEY_A] = "rate_limited"
    with pytest.raises(openai.RateLimitError) as info:
        client(proxy).images.generate(model="dall-e-3", prompt=PROMPT)
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["type"] == "rate_limit_error"
    fake.received.clear()
    cooldown.clear()
    fake.keys[KEY_A] = "forbidden"  # a paid-only model's 403 on a free key
    cooldown.cool(KEY_B, 60)  # KEY_A first
    result = client(proxy, f"{KEY_A},{KEY_B}").images.generate(model="imagen-3.0-generate-002", prompt=PROMPT)
    assert len(result.data) == 1
    assert [c.key for c in fake.received] == [KEY_A, KEY_B]


@pytest.mark.parametrize(
    "body, param",
    [
        ({}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"prompt": PROMPT, "n": 0}, "n"),
        ({"prompt": PROMPT, "n": 11}, "n"),
        ({"prompt": PROMPT, "n": "2"}, "n"),
        ({"prompt": PROMPT, "size": "huge"}, "size"),
        ({"prompt": PROMPT, "size": "0x1024"}, "size"),
        ({"prompt": PROMPT, "quality": "ultra"}, "quality"),
        ({"prompt": PROMPT, "style": "pastel"}, "style"),
        ({"prompt": PROMPT, "response_format": "png"}, "response_format"),
        ({"prompt": PROMPT, "response_format": ["url"]}, "response_format"),
        ({"prompt": PROMPT, "response_format": {"type": "url"}}, "response_format"),
        ({"prompt": PROMPT, "quality": ["hd"]}, "quality"),
        ({"prompt": PROMPT, "quality": {"level": "hd"}}, "quality"),
        ({"prompt": PROMPT, "style": ["vivid"]}, "style"),
        ({"prompt": PROMPT, "style": {}}, "style"),
        ({"prompt": PROMPT, "size": ["1024x1024"]}, "size"),
        ({"prompt": PROMPT, "size": "512"}, "size"),
        ({"prompt": PROMPT, "size": "0.5K"}, "size"),
        ({"prompt": PROMPT, "size": "3:7"}, "size"),
        ({"prompt": PROMPT, "size": "1:8", "model": "gemini-2.5-flash-image"}, "size"),  # not in 2.5's table
        ({"prompt": PROMPT, "background": "transparent"}, "background"),
        ({"prompt": PROMPT, "background": ["auto"]}, "background"),
        ({"prompt": PROMPT, "output_format": "jpeg"}, "output_format"),
        ({"prompt": PROMPT, "output_compression": 101}, "output_compression"),
        ({"prompt": PROMPT, "moderation": "none"}, "moderation"),
    ],
)
def test_bad_input_is_a_400_with_nothing_sent(proxy, fake, body, param):
    r = httpx.post(proxy + "/v1/images/generations", json=body, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    assert fake.received == []


# Edits ---------------------------------------------------------------------------------


def test_edit_several_images_and_a_mask(proxy, fake):
    first, second, mask = png(2, 2), png(3, 3), png(2, 2)
    result = client(proxy + "/v1").images.edit(
        model="gpt-image-1",
        image=[("a.png", first, "image/png"), ("b.png", second, "application/octet-stream")],
        mask=("mask.png", mask, "image/png"),
        prompt="put a boat on the sea",
        n=2,
        size="1024x1536",
    )
    assert [png_size(base64.b64decode(d.b64_json)) for d in result.data] == [(2, 3), (2, 3)]
    assert len(fake.generate_calls) == 2
    for call in fake.generate_calls:
        assert call.path == GEMINI_DEFAULT
        parts = image_parts(call)
        assert parts[0] == {"text": "put a boat on the sea"}
        assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(first).decode()}}
        assert parts[2] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(second).decode()}}
        assert "mask" in parts[3]["text"] and parts[4]["inlineData"]["data"] == base64.b64encode(mask).decode()
        assert call.json["generationConfig"]["imageConfig"] == {"aspectRatio": "2:3"}


def test_edit_one_jpeg_as_data_url(proxy, fake):
    result = client(proxy + "/hf/v1").images.edit(
        model="gemini-2.5-flash-image", image=("photo.jpg", JPEG), prompt="make it night", response_format="url"
    )
    assert result.data[0].url.startswith("data:image/png;base64,")
    (call,) = fake.generate_calls
    assert image_parts(call) == [
        {"text": "make it night"},
        {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(JPEG).decode()}},
    ]


def edit_error(proxy: str, **kwargs) -> dict:
    r = httpx.post(proxy + "/v1/images/edits", headers={"authorization": f"Bearer {KEY_A}"}, **kwargs)
    assert r.status_code == 400, r.text
    return r.json()["error"]


def test_edit_bad_input(proxy, fake):
    text_file = {"image": ("notes.png", b"just some text, not a picture", "image/png")}
    assert edit_error(proxy, files=text_file, data={"prompt": "x"})["param"] == "image"
    assert "notes.png" in edit_error(proxy, files=text_file, data={"prompt": "x"})["message"]
    bad_mask = {"image": ("a.png", png(1, 1)), "mask": ("m.txt", b"hello")}
    assert edit_error(proxy, files=bad_mask, data={"prompt": "x"})["param"] == "mask"
    assert edit_error(proxy, files={"mask": ("m.png", png(1, 1))}, data={"prompt": "x"})["param"] == "image"
    assert edit_error(proxy, files={"image": ("a.png", png(1, 1))}, data={"n": "3"})["param"] == "prompt"
    assert edit_error(proxy, files={"image": ("a.png", png(1, 1))}, data={"prompt": "x", "n": "12"})["param"] == "n"
    imagen = edit_error(
        proxy, files={"image": ("a.png", png(1, 1))}, data={"prompt": "x", "model": "imagen-3.0-generate-002"}
    )
    assert imagen["param"] == "model" and "Gemini image model" in imagen["message"]
    assert "multipart/form-data" in edit_error(proxy, data={"prompt": "x"})["message"]  # url-encoded
    assert edit_error(proxy, json={"prompt": "x"})["param"] == "images"
    assert fake.received == []


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_edit_as_json_with_image_urls(proxy, fake):
    first, mask = png(2, 2), png(2, 2)
    body = {
        "prompt": "add snow",
        "images": [{"image_url": data_url(JPEG, "application/octet-stream")}, {"image_url": {"url": data_url(first)}}],
        "mask": {"image_url": data_url(mask)},
        "size": "1024x1024",
    }
    r = httpx.post(proxy + "/v1/images/edits", json=body, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 200, r.text
    assert png_size(base64.b64decode(r.json()["data"][0]["b64_json"])) == (1, 1)
    parts = image_parts(fake.generate_calls[0])
    assert parts[1] == {
        "inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(JPEG).decode()}
    }  # by its bytes
    assert parts[2]["inlineData"]["data"] == base64.b64encode(first).decode()
    assert parts[4] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(mask).decode()}}


@pytest.mark.parametrize(
    "images, param, words",
    [
        ([{"image_url": data_url(b"plain text, no picture", "image/png")}], "images[0]", "not an image"),
        ([{"image_url": "http://127.0.0.1:9/cat.png"}], "images[0].image_url", "not allowed"),  # media.py's guard
        ([{"file_id": "file-abc"}], "images[0]", "image_url"),
        ("cat.png", "images", "images is required"),
    ],
)
def test_edit_json_bad_images(proxy, fake, images, param, words):
    error = edit_error(proxy, json={"prompt": "x", "images": images})
    assert error["param"] == param and words in error["message"]
    assert fake.received == []


# Nano Banana 2.1: the ratio and size table follows the model ---------------------------------

NANO_BANANA_RATIOS = [
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
    "21:9",
    "1:4",
    "4:1",
    "1:8",
    "8:1",
]


@pytest.mark.parametrize("ratio", NANO_BANANA_RATIOS)
def test_every_nano_banana_ratio_is_reachable_from_openai_sizes(proxy, fake, ratio):
    w, h = (int(v) for v in ratio.split(":"))
    scale = 1024 // max(w, h)  # the longer side 1024 or a little less: 1K, Gemini's default
    result = client(proxy).images.generate(model="gpt-image-1", prompt=PROMPT, size=f"{w * scale}x{h * scale}")
    assert png_size(base64.b64decode(result.data[0].b64_json)) == (w, h)
    client(proxy).images.generate(model="gpt-image-1", prompt=PROMPT, size=ratio)  # the ratio itself
    for call in fake.generate_calls:
        assert call.path == GEMINI_DEFAULT
        assert call.json["generationConfig"]["imageConfig"] == {"aspectRatio": ratio}


@pytest.mark.parametrize(
    "size, config",
    [
        ("2048x2048", {"aspectRatio": "1:1", "imageSize": "2K"}),
        ("3840x2160", {"aspectRatio": "16:9", "imageSize": "4K"}),
        ("1536x1024", {"aspectRatio": "3:2"}),  # gpt-image's landscape: 1K
        ("512x512", {"aspectRatio": "1:1"}),  # dall-e-2's: the nearest, 1K
        ("256x2048", {"aspectRatio": "1:8", "imageSize": "2K"}),
        ("4k", {"imageSize": "4K"}),
        ("2K", {"imageSize": "2K"}),
    ],
)
def test_sizes_on_nano_banana(proxy, fake, size, config):
    r = httpx.post(
        proxy + "/v1/images/generations",
        json={"prompt": PROMPT, "size": size, "model": "dall-e-3"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200, r.text
    assert "x-proxy-dropped" not in r.headers
    (call,) = fake.generate_calls
    assert call.json["generationConfig"].get("imageConfig", {}) == config


def test_older_models_keep_their_table(proxy, fake):
    r = httpx.post(
        proxy + "/v1/images/generations",
        json={"prompt": PROMPT, "size": "256x2048", "model": "gemini-2.5-flash-image"},
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200 and r.headers["x-proxy-dropped"] == "size"  # 2K asked, no size setting
    assert fake.generate_calls[0].json["generationConfig"]["imageConfig"] == {"aspectRatio": "9:16"}
    fake.received.clear()
    client(proxy).images.generate(model="gemini-3-pro-image-preview", prompt=PROMPT, size="256x2048")
    assert fake.generate_calls[0].json["generationConfig"]["imageConfig"] == {"aspectRatio": "9:16", "imageSize": "2K"}


def test_gpt_image_parameters_mapped_or_dropped(proxy, fake):
    r = httpx.post(
        proxy + "/v1/images/generations",
        json={
            "prompt": PROMPT,
            "model": "gpt-image-1",
            "background": "opaque",
            "output_format": "png",
            "output_compression": 80,
            "moderation": "low",
            "quality": "high",
            "n": 2,
        },
        headers={"authorization": f"Bearer {KEY_A}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-proxy-dropped"] == "output_compression"
    assert len(r.json()["data"]) == 2 and len(fake.generate_calls) == 2
    assert fake.generate_calls[0].json["generationConfig"]["imageConfig"] == {"imageSize": "2K"}


def test_edits_take_up_to_14_images(proxy, fake):
    images = [(f"{i}.png", png(1, 1), "image/png") for i in range(14)]
    raw = client(proxy).images.with_raw_response.edit(
        model="gpt-image-1", image=images, prompt="blend them", input_fidelity="high", output_compression=70
    )
    assert raw.headers["x-proxy-dropped"] == "output_compression, input_fidelity"
    assert len(raw.parse().data) == 1
    parts = image_parts(fake.generate_calls[0])
    assert len(parts) == 15 and all("inlineData" in p for p in parts[1:])
    fake.received.clear()
    with pytest.raises(openai.BadRequestError) as info:
        client(proxy).images.edit(model="gpt-image-1", image=[*images, ("15.png", png(1, 1), "image/png")], prompt="x")
    assert info.value.body["param"] == "image" and "14" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError):  # a mask counts
        client(proxy).images.edit(model="gpt-image-1", image=images, mask=("m.png", png(1, 1)), prompt="x")
    error = edit_error(proxy, json={"prompt": "x", "images": [{"image_url": data_url(png(1, 1))}] * 15})
    assert "14" in error["message"]
    assert fake.received == []
