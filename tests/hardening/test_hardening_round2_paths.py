"""Path handling of every route that takes a resource id (issue 23), property-based:
whatever id a client puts in the path (dot segments, encoded slashes, `?`, `#`, `%`,
non-ASCII, control characters), the proxy answers without a 500 and anything it sends
upstream stays under the route's own prefix, one segment per id, with no query the
client did not send."""

from __future__ import annotations

import socket
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.upstream import connection_pool

from ..conftest import KEY_A
from .test_hardening_server import read_all

ROUTES = [
    ("GET", "/v1beta/files/{id}", "/v1beta/files/"),
    ("GET", "/v1beta/cachedContents/{id}", "/v1beta/cachedContents/"),
    ("GET", "/v1beta/interactions/{id}", "/v1beta/interactions/"),
    ("GET", "/v1beta/models/{id}", "/v1beta/models/"),
    ("POST", "/v1beta/models/{id}:generateContent", "/v1beta/models/"),
    ("GET", "/v1/models/{id}", "/v1/models/"),  # native: the caller sends x-goog-api-key (decision 13)
    ("GET", "/v1/responses/{id}", None),  # stateless: answered here, never sent
    ("PUT", "/upload/v1beta/files/{id}?upload_id=u1", "/upload/v1beta/files"),
]
pieces = st.sampled_from(
    [".", "..", "%2e", "%2E%2e", "%2F", "%2f..", "/", "?", "#", "%3F", "%23", "%", "%zz", "~", "é", "\\"]
)
ids = st.lists(
    pieces | st.text(st.characters(codec="utf-8", exclude_characters="\r\n "), max_size=6), min_size=1, max_size=6
).map("".join)


def send(proxy: str, method: str, target: bytes) -> bytes:
    sock = socket.create_connection(("127.0.0.1", int(proxy.rsplit(":", 1)[1])), timeout=10)
    head = b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-goog-api-key: %s\r\nContent-Length: 2\r\n\r\n{}" % (
        method.encode(),
        target,
        KEY_A.encode(),
    )
    sock.sendall(head)
    answer = read_all(sock)
    sock.close()
    return answer


SENT: list[str] = []  # every URL the proxy's HTTP client was asked for (the fake records only its routes)


@pytest.fixture(scope="module", autouse=True)
def record_upstream_urls():
    original = connection_pool.Pool.request

    async def recording(self, method, url, *args, **kwargs):
        SENT.append(url)
        return await original(self, method, url, *args, **kwargs)

    connection_pool.Pool.request = recording  # type: ignore[method-assign]
    yield
    connection_pool.Pool.request = original  # type: ignore[method-assign]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(ROUTES), ids)
def test_any_resource_id_stays_in_its_route(proxy, fake_server, route, ident):
    method, template, prefix = route
    # As sent on the wire: unsafe characters encoded as a client library would, the rest raw.
    target = template.replace("{id}", quote(ident, safe="/%?#.~:@!$&'()*+,;=")).encode("utf-8")
    SENT.clear()
    answer = send(proxy, method, target)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    assert 200 <= status < 500 or status in (502, 503, 504), answer[:300]
    base = fake_server[1].url
    for url in SENT:
        assert prefix is not None, f"{template} sent something upstream"
        path, _, query = url.removeprefix(base).partition("?")
        assert path.startswith(prefix), (ident, url)
        segments = [unquote(segment) for segment in path.split("/")]
        assert "." not in segments and ".." not in segments, (ident, url)
        assert "#" not in url, (ident, url)
        if template.startswith("/upload/"):  # the client's own query, nothing more (no key: none was sent)
            assert query == target.decode().partition("#")[0].partition("?")[2], (ident, url)
