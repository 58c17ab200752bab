"""The HTTP client against hostile peers, second round (issue 23): every unfinished
thing it reads (the status line, a header name or value, a chunk-size line, trailers)
is bounded as it arrives, not when it ends; a 101 is a clean error with nothing logged
by asyncio; and whatever a peer sends, split however it likes, ends in a ProtocolError,
Disconnected or a timeout, never another exception."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.upstream import connection as http_connection
from handler.upstream.connection_pool import Disconnected, Pool, ProtocolError

from ..upstream.test_http_client import Server, answer, call, run

PIECE = 64 * 1024
ENDLESS = 16 * 1024 * 1024  # what the peer would send if let (the attack sent 64 MB)

HOSTILE_STARTS = {
    "status line": b"HTTP/1.1 200 ",
    "header name": b"HTTP/1.1 200 OK\r\nX-",
    "header value": b"HTTP/1.1 200 OK\r\nX-Big: ",
    "1xx answers": None,  # endless interim answers, each small
    "chunk-size line": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=",
    "trailer value": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: ",
    "many trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
}


def endless(kind: str) -> bytes:
    if kind == "1xx answers":
        return b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n" * (PIECE // 33)
    if kind == "many trailers":
        return b"X-T: v\r\n" * (PIECE // 8)
    return b"a" * PIECE


@pytest.mark.parametrize("kind", list(HOSTILE_STARTS))
def test_an_unfinished_line_is_bounded_as_it_arrives(kind):
    sent = [0]

    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(HOSTILE_STARTS[kind] or b"")
        piece = endless(kind)
        while sent[0] < ENDLESS:
            writer.write(piece)
            sent[0] += len(piece)
            await writer.drain()

    async def test():
        async with Server(script) as server:
            with pytest.raises(ProtocolError):
                response = await call(Pool(), server.url, read_timeout=30.0)
                while await response.read_some():
                    pass

    run(test)
    # Refused within the limits plus what was in flight (socket buffers), not after 16 MB:
    assert sent[0] < 4 * 1024 * 1024, sent[0]


def test_a_101_answer_is_a_clean_error_with_nothing_logged(caplog):
    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nxyz")
        await reader.read()

    failures: list[dict] = []

    async def test():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: failures.append(context))
        async with Server(script) as server:
            with pytest.raises(ProtocolError):
                await (await call(Pool(), server.url)).read()

    run(test)
    assert failures == []
    assert "Fatal error" not in caplog.text and "Traceback" not in caplog.text


def test_trailers_are_not_taken_for_headers():
    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Proxy-Key: t\r\n\r\n")
        await reader.read()

    async def test():
        async with Server(script) as server:
            response = await call(Pool(), server.url)
            assert await response.read() == b"ok"
            assert response.header("x-proxy-key") is None

    run(test)


def test_many_small_chunks_in_one_read_are_not_taken_for_a_long_line():
    """Framing bytes between reported chunks never add up to a 'line'."""
    chunks = b"".join(b"1\r\n%c\r\n" % (65 + i % 26) for i in range(60_000))

    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        await reader.read()

    async def test():
        async with Server(script) as server:
            body = await (await call(Pool(), server.url)).read()
            assert len(body) == 60_000

    run(test)


# Property-based: a scripted peer sends the given bytes, split at the given points ------


async def _fetch(written: list[bytes]) -> bytes:
    async def script(reader, writer, server):
        await server.read_request(reader)
        for piece in written:
            writer.write(piece)
            await writer.drain()
        writer.close()

    async with Server(script) as server:
        response = await call(Pool(), server.url, read_timeout=2.0, timeout=5.0)
        return await response.read(1024 * 1024)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if data[a:b]]


VALID = [
    answer(b"hello"),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.lists(st.integers(min_value=0, max_value=500), max_size=12))
def test_a_valid_answer_reads_the_same_however_it_is_split(written, cuts):
    body = asyncio.run(asyncio.wait_for(_fetch(split(written, cuts)), 20))
    assert body == b"hello"


HEAD_PARTS = [
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: upgrade\r\nUpgrade: x\r\n",
    b"\r\n",
    b"ffffffffffffffffffff\r\n",
    b"3\r\nabc\r\n",
    b"0\r\n",
    b"X-A: " + b"v" * 70_000,
    b"\x00\xff\r\n",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HEAD_PARTS) | st.binary(max_size=40), max_size=10), st.lists(st.integers(0, 1000)))
def test_whatever_a_peer_sends_the_client_fails_cleanly(parts, cuts):
    failures: list[dict] = []

    async def fetch() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: failures.append(context))
        await _fetch(split(b"".join(parts), cuts))

    try:
        asyncio.run(asyncio.wait_for(fetch(), 20))
    except (ProtocolError, Disconnected, TimeoutError, OverflowError):
        pass
    assert failures == []


def test_the_limits_are_the_documented_ones():
    assert http_connection.MAX_HEAD == 64 * 1024 and http_connection.MAX_LINE == 8 * 1024
