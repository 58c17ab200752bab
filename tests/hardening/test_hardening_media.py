"""Media fetched for one request is bounded in total (count and bytes), not only per URL."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from handler.translate import media

from ..conftest import KEY_A
from ..servers import ServerThread

IMAGE = b"\x89PNG\r\n\x1a\n" + b"\0" * (300 * 1024)  # 300 kB


@pytest.fixture(scope="module")
def images():
    hits: list[str] = []

    async def image(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(IMAGE, media_type="image/png")

    server = ServerThread(Starlette(routes=[Route("/{name}.png", image)])).start()
    yield server.url, hits
    server.stop()


@pytest.fixture
def allow_loopback(monkeypatch):
    strict = media.address_allowed
    monkeypatch.setattr(media, "address_allowed", lambda ip: ip == ipaddress.ip_address("127.0.0.1") or strict(ip))


def chat_with_images(urls: list[str]) -> dict:
    parts = [{"type": "text", "text": "describe"}] + [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": parts}]}


def post(proxy: str, body: dict) -> httpx.Response:
    return httpx.post(
        proxy + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY_A}"}, timeout=30
    )


def test_more_urls_than_the_request_may_fetch(proxy, fake, images, allow_loopback):
    base, hits = images
    hits.clear()
    r = post(proxy, chat_with_images([f"{base}/{i}.png" for i in range(media.MAX_FETCHES + 1)]))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == f"messages[0].content[{media.MAX_FETCHES + 1}].image_url"
    assert len(hits) == media.MAX_FETCHES  # the one past the limit was never fetched
    assert fake.generate_calls == []
    r = post(proxy, chat_with_images([f"{base}/{i}.png" for i in range(media.MAX_FETCHES)]))
    assert r.status_code == 200  # the budget is per request: a new request starts afresh
    assert len(fake.generate_calls[0].json["contents"][0]["parts"]) == media.MAX_FETCHES + 1


def test_total_bytes_per_request(proxy, fake, images, allow_loopback, monkeypatch):
    base, _ = images
    monkeypatch.setattr(media, "MAX_TOTAL_BYTES", 1024 * 1024)  # 1 MB: three 300 kB images fit, four do not
    r = post(proxy, chat_with_images([f"{base}/{i}.png" for i in range(3)]))
    assert r.status_code == 200
    r = post(proxy, chat_with_images([f"{base}/{i}.png" for i in range(4)]))
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "messages[0].content[4].image_url"
    assert "pass 1 MB" in r.json()["error"]["message"]
    assert len(fake.generate_calls) == 1
