"""/v1/images/edits multipart, second round (issue 23): Starlette's own form parser
(python-multipart) with bounded files, fields and part sizes, so no body can hold the
event loop; up to 14 images still pass; property-based checks of the parser."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.errors import BadRequest
from handler.openai import multipart

from ..clients import openai_client as client
from ..conftest import KEY_A
from ..fake_gemini import png

EDITS = "/v1/images/edits"
AUTH = {"authorization": f"Bearer {KEY_A}"}
BOUNDARY = "XyZ"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def tiny_parts(count: int, file: bool = False) -> bytes:
    disposition = b'form-data; name="a"; filename="f"' if file else b'form-data; name="a"'
    part = b"--XyZ\r\nContent-Disposition: " + disposition + b"\r\n\r\nx\r\n"
    return part * count + b"--XyZ--\r\n"


class HealthWatch:
    """Polls /healthz from a thread while a hostile request runs: the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as http:
            while not self.done.is_set():
                started = time.monotonic()
                http.get(self.url + "/healthz")
                self.slowest = max(self.slowest, time.monotonic() - started)
                time.sleep(0.01)

    def __enter__(self) -> HealthWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(60)


@pytest.mark.parametrize("file", [False, True], ids=["fields", "files"])
def test_thirty_thousand_tiny_parts_are_refused_without_holding_the_loop(proxy, fake, file):
    body = tiny_parts(30_000, file)  # the 2.8 MB body took 14.5 s of loop time
    with HealthWatch(proxy) as watch:
        time.sleep(0.05)
        r = httpx.post(proxy + EDITS, content=body, headers={**AUTH, "content-type": CONTENT_TYPE}, timeout=60)
        time.sleep(0.05)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert "Too many" in r.json()["error"]["message"]
    assert fake.received == []
    assert watch.slowest < 2.0, watch.slowest  # generous for a loaded machine; it was 14 s


@pytest.mark.parametrize(
    "body",
    [
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\nX-Long: '
        + b"a" * 5_000_000
        + b"\r\n\r\nx\r\n--XyZ--\r\n",
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n' + b"X: y\r\n" * 800_000 + b"\r\nx\r\n--XyZ--\r\n",
        b'--XyZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n' + b"-" * 5_000_000 + b"\r\n--XyZ--\r\n",
    ],
    ids=["one long part header", "many part headers", "a huge field"],
)
def test_hostile_part_heads_and_fields_are_refused_fast(proxy, fake, body):
    with HealthWatch(proxy) as watch:
        r = httpx.post(proxy + EDITS, content=body, headers={**AUTH, "content-type": CONTENT_TYPE}, timeout=60)
    assert r.status_code == 400, r.text
    assert fake.received == []
    assert watch.slowest < 2.0, watch.slowest


def test_the_most_input_images_still_pass(proxy, fake):
    """14 inputs in all (the mask counts as one: images_request.py): 13 images and a mask."""
    images = [(f"{i}.png", png(2, 2), "image/png") for i in range(13)]
    result = client(proxy + "/v1").images.edit(
        model="gemini-2.5-flash-image", image=images, mask=("m.png", png(2, 2), "image/png"), prompt="x"
    )
    assert len(result.data) == 1
    parts = fake.generate_calls[0].json["contents"][0]["parts"]
    assert sum("inlineData" in p for p in parts) == 14


# Property-based: the parser against what a real client library encodes, and junk --------

names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters='"\\%'), min_size=1, max_size=12
)
# (name, data, filename or None): a file's data is any bytes, a plain field's is text.
files = st.tuples(names, st.binary(max_size=200), names)
texts = st.tuples(names, st.text(max_size=60).map(str.encode), st.none())
fields = st.lists(files | texts, min_size=1, max_size=8)


def encode(items: list[tuple[str, bytes, str | None]]) -> tuple[str, bytes]:
    """A body as httpx (the client library) writes it: plain fields and files in order."""
    parts = []
    for name, data, filename in items:
        if filename is None:
            parts.append((name, (None, data)))
        else:
            parts.append((name, (filename, data, "application/octet-stream")))
    request = httpx.Request("POST", "http://x/", files=parts)
    return request.headers["content-type"], request.read()


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields)
def test_what_a_client_encodes_is_read_back_in_order(items):
    content_type, body = encode(items)
    got = asyncio.run(multipart.parse(content_type, body))
    assert [(f.name, f.data, f.filename) for f in got] == items


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.sampled_from(
            [
                b"--XyZ\r\n",
                b"--XyZ--\r\n",
                b'Content-Disposition: form-data; name="a"\r\n',
                b'Content-Disposition: form-data; name="f"; filename="x"\r\n',
                b"Content-Disposition: form-data\r\n",
                b"\r\n",
                b"data",
                b"\r\n--XyZ",
            ]
        )
        | st.binary(max_size=30),
        max_size=30,
    ),
    st.sampled_from([CONTENT_TYPE, "multipart/form-data", "multipart/form-data; boundary=", "text/plain"]),
)
def test_junk_is_a_400_or_fields_never_another_error(pieces, content_type):
    try:
        got = asyncio.run(multipart.parse(content_type, b"".join(pieces)))
    except BadRequest as exc:
        assert exc.status == 400
        return
    assert all(isinstance(f, multipart.Field) for f in got)
