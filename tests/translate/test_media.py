"""Media URLs -> Gemini parts: data URLs, fileData URIs, and the SSRF-guarded fetch.

The fetch tests use a real image server on loopback. Loopback is exactly what the guard
refuses, so the tests that need it to be fetched allow it explicitly, in-process, by
widening the guard's address predicate for that test only; one test checks that
without that allowance the same server is refused.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from handler import upstream
from handler.config import Settings
from handler.errors import BadRequest
from handler.translate import media

from ..servers import ServerThread

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PARAM = "messages[0].content[1].image_url.url"
SETTINGS = Settings()
hits: list[str] = []
hosts: list[str] = []


async def image(request: Request) -> Response:
    hits.append(request.url.path)
    hosts.append(request.headers.get("host", ""))
    return Response(PNG, media_type="image/png")


async def octet(request: Request) -> Response:
    return Response(b"%PDF-1.4 tiny", media_type="application/octet-stream")


async def html(request: Request) -> Response:
    return Response(b"<html></html>", media_type="text/html")


async def declared_big(request: Request) -> Response:
    return Response(b"x" * 5000, media_type="image/jpeg")


async def endless(request: Request) -> Response:
    async def chunks():
        for _ in range(100_000):  # far more than any cap; never finishes on its own
            yield b"\0" * 1024
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="video/mp4")


async def slow(request: Request) -> Response:
    await asyncio.sleep(1.0)
    return Response(PNG, media_type="image/png")


async def missing(request: Request) -> Response:
    return Response(b"no", status_code=404, media_type="text/plain")


def redirect_to(target: str):
    async def handler(request: Request) -> Response:
        location = target.replace("{base}", str(request.base_url).rstrip("/"))
        return RedirectResponse(location, status_code=302)

    return handler


async def loop_redirect(request: Request) -> Response:
    return RedirectResponse("/loop", status_code=307)


@pytest.fixture(scope="module")
def images():
    app = Starlette(
        routes=[
            Route("/cat.png", image),
            Route("/doc.pdf", octet),
            Route("/page", html),
            Route("/big", declared_big),
            Route("/endless", endless),
            Route("/slow", slow),
            Route("/missing", missing),
            Route("/to-cat", redirect_to("{base}/cat.png")),
            Route("/to-metadata", redirect_to("http://169.254.169.254/latest/meta-data/")),
            Route("/to-file", redirect_to("file:///etc/passwd")),
            Route("/loop", loop_redirect),
        ]
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


@pytest.fixture
def allow_loopback(monkeypatch):
    """Let the guard accept 127.0.0.1 (and only that beyond what it accepts anyway)."""
    strict = media.address_allowed
    monkeypatch.setattr(media, "address_allowed", lambda ip: ip == ipaddress.ip_address("127.0.0.1") or strict(ip))


def part(url: str) -> dict:
    async def go():
        try:
            return await media.url_part(url, SETTINGS, PARAM)
        finally:
            await upstream.close_pool()

    return asyncio.run(go())


def refused(url: str) -> str:
    with pytest.raises(BadRequest) as info:
        part(url)
    assert info.value.param == PARAM and info.value.status == 400
    assert PARAM in info.value.message
    return info.value.message


# The address check ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.0.0.1",
        "172.16.5.4",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.192",
        "192.0.2.10",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:100.64.0.1",
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "::127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert media.address_allowed(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "142.250.74.46",
        "100.63.255.255",
        "100.128.0.1",
        "172.32.0.1",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_are_allowed(address):
    assert media.address_allowed(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://localhost:8080/x.png",
        "http://foo.localhost/x.png",
        "https://10.0.0.8/x.png",
        "http://2130706433/x.png",
        "http://0x7f.1/x.png",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
def test_internal_urls_are_refused_before_any_connection(url):
    assert "not allowed" in refused(url)


def test_name_resolving_to_any_internal_address_is_refused(monkeypatch):
    async def fake_resolve(self, host, port, **kwargs):
        assert host == "images.example.com"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", fake_resolve)
    message = refused("https://images.example.com/cat.png")
    assert "not allowed" in message and "10.0.0.5" not in message


# Fetching over loopback ---------------------------------------------------------------


def test_loopback_server_is_refused_without_the_allowance(images):
    hits.clear()
    assert "not allowed" in refused(images + "/cat.png")
    assert hits == []  # refused before connecting


def test_fetch_image_end_to_end(images, allow_loopback):
    hits.clear()
    assert part(images + "/cat.png") == {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}
    }
    assert hits == ["/cat.png"]


def test_fetch_by_name_connects_to_the_vetted_address(images, allow_loopback, monkeypatch):
    """The name is resolved once per hop, by the guard; the client connects to that address
    (no lookup of its own that a rebinding DNS could answer differently), and the
    server still sees the name in Host."""
    calls = []

    async def resolve(self, host, port, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolve)
    port = images.rsplit(":", 1)[1]
    hosts.clear()
    assert part(f"http://images.test:{port}/to-cat")["inlineData"]["mimeType"] == "image/png"
    assert calls == ["images.test", "images.test"]  # two hops, one lookup each
    assert hosts == [f"images.test:{port}"]


def test_redirects_are_checked_at_every_hop(images, allow_loopback):
    hits.clear()
    assert part(images + "/to-cat")["inlineData"]["mimeType"] == "image/png"
    assert hits == ["/cat.png"]
    assert "not allowed" in refused(images + "/to-metadata")
    assert "not http(s)" in refused(images + "/to-file")
    assert "redirects more than" in refused(images + "/loop")


def test_octet_stream_accepted_by_extension(images, allow_loopback):
    assert part(images + "/doc.pdf") == {
        "inlineData": {"mimeType": "application/pdf", "data": base64.b64encode(b"%PDF-1.4 tiny").decode()}
    }


def test_wrong_content_type_refused(images, allow_loopback):
    assert "'text/html'" in refused(images + "/page")


def test_error_status_refused(images, allow_loopback):
    assert "answered 404" in refused(images + "/missing")


def test_size_cap_enforced_while_reading(images, allow_loopback, monkeypatch):
    monkeypatch.setattr(media, "MAX_BYTES", 4096)
    assert "larger than" in refused(images + "/big")  # Content-Length 5000: refused unread
    # No Content-Length and no end: only a cap checked while reading can stop this.
    assert "larger than" in refused(images + "/endless")


def test_timeout(images, allow_loopback, monkeypatch):
    monkeypatch.setattr(media, "TIMEOUT", 0.2)
    assert "did not answer within 0.2 seconds" in refused(images + "/slow")


# URLs that are not fetched ------------------------------------------------------------


def test_data_urls():
    data = base64.b64encode(PNG).decode()
    assert part(f"data:image/png;base64,{data}") == {"inlineData": {"mimeType": "image/png", "data": data}}
    assert part(f"DATA:Audio/WAV;name=a.wav;base64,{data}") == {"inlineData": {"mimeType": "audio/wav", "data": data}}
    # URL-safe alphabet and missing padding: Gemini's JSON parser takes both.
    assert part("data:image/jpeg;base64,_-8") == {"inlineData": {"mimeType": "image/jpeg", "data": "_-8"}}
    assert part("data:text/plain,hello%20world") == {
        "inlineData": {"mimeType": "text/plain", "data": base64.b64encode(b"hello world").decode()}
    }


@pytest.mark.parametrize(
    "url, words",
    [
        ("data:image/png;base64,@@@not-base64@@@", "not valid base64"),
        ("data:image/png;base64,iVBORw0KG", "not valid base64"),  # a length no base64 has
        ("data:image/png;base64,iV==BORw", "not valid base64"),  # padding inside
        ("data:image/png;base64,iVBORw0K=", "not valid base64"),  # padding to a wrong length
        ("data:image/png;base64,iVBOR w0K", "not valid base64"),
        ("data:image/png;base64,iVBORé0K", "not valid base64"),
        ("data:;base64,iVBORw0KGgo=", "media type"),
        ("data:image/png;base64,", "no data"),
        ("data:image/png;base64", "not a valid data URL"),
        ("ftp://example.com/x.png", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("", "non-empty"),
    ],
)
def test_bad_urls_are_400_naming_the_field(url, words):
    assert words in refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=9hE5-98ZeCg",
        "https://youtu.be/9hE5-98ZeCg",
        "https://generativelanguage.googleapis.com/v1beta/files/abc-123",
    ],
)
def test_youtube_and_files_api_go_as_file_data(url):
    assert part(url) == {"fileData": {"fileUri": url}}


# TLS: connected to the vetted address, verified against the name -------------------


@pytest.fixture(scope="module")
def tls_images(tmp_path_factory):
    """An https image server on loopback with a certificate for `images.test` from a
    throwaway CA that this test process (only) trusts."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("images.test")
    folder = tmp_path_factory.mktemp("tls")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    ca.configure_trust(upstream.tls_context())
    server = ServerThread(
        Starlette(routes=[Route("/cat.png", image)]),
        ssl_keyfile=str(folder / "key.pem"),
        ssl_certfile=str(folder / "cert.pem"),
    ).start()
    yield server.port
    server.stop()


def test_https_pins_address_and_verifies_the_name(tls_images, allow_loopback, monkeypatch):
    async def resolve(self, host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolve)
    hosts.clear()
    url = f"https://images.test:{tls_images}/cat.png"
    assert part(url) == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
    assert hosts == [f"images.test:{tls_images}"]
    # Same address, another name: the certificate does not match it, so no fetch.
    assert "TLS certificate" in refused(f"https://other.test:{tls_images}/cat.png")
