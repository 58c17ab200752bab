"""The HTTP/1.1 client against scripted servers on loopback: each test's server writes
exactly the bytes a real server (or a misbehaving one) would, so framing, keep-alive,
timeouts and back-pressure are checked byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from handler.upstream import connection as http_connection
from handler.upstream import connection_pool as http_client
from handler.upstream.connection_pool import Disconnected, Pool, ProtocolError

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    """A loopback server running `script` once per connection; it records what came."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        body = b""
        if b"transfer-encoding: chunked" in lines:
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += (await reader.readexactly(size + 2))[:-2]
            await reader.readexactly(2)
        else:
            length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), 0)
            body = await reader.readexactly(length)
        self.requests.append((head, body))
        return head, body


async def answers_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    while True:
        await server.read_request(reader)
        writer.write(answer(b"ok"))


async def drops_the_second_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    """On the first connection: answers "first", then reads the next request and closes
    unanswered, as a server does with a kept connection it has just dropped."""
    await server.read_request(reader)
    if server.connections == 1:
        writer.write(answer(b"first"))
        await server.read_request(reader)
        return
    writer.write(answer(b"second"))


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body)


async def call(pool: Pool, url: str, method: str = "GET", body=None, headers=None, **kw) -> http_client.Response:
    kw.setdefault("connect_timeout", 2.0)
    kw.setdefault("read_timeout", 2.0)
    return await pool.request(method, url, headers or {}, body, **kw)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))


def test_keep_alive_reuses_one_connection_for_calls_one_after_another():
    async def script(reader, writer, server):
        while True:
            _, body = await server.read_request(reader)
            writer.write(answer(b"echo:" + body))

    async def test():
        async with Server(script) as server:
            pool = Pool()
            for n in range(3):
                response = await call(pool, server.url + "/x", "POST", f"n{n}".encode())
                assert (response.status, await response.read()) == (200, f"echo:n{n}".encode())
            assert server.connections == 1
            head = server.requests[0][0].decode()
            assert head.startswith("POST /x HTTP/1.1\r\n")
            assert f"Host: 127.0.0.1:{server.url.rsplit(':', 1)[1]}\r\n" in head
            assert "Content-Length: 2\r\n" in head
            pool.close()

    run(test)


def test_a_large_body_is_written_whole_in_pieces():
    body = bytes(range(256)) * (3 * 4096 + 7)  # about 3 MB: over LARGE_WRITE, so written in pieces

    async def script(reader, writer, server):
        _, received = await server.read_request(reader)
        writer.write(answer(b"%d" % len(received)))

    async def test():
        async with Server(script) as server:
            response = await call(Pool(), server.url, "POST", body)
            assert await response.read() == b"%d" % len(body)
            assert server.requests[0][1] == body
            assert b"Content-Length: %d\r\n" % len(body) in server.requests[0][0]

    run(test)


def test_chunked_answer_arrives_piece_by_piece_and_trailers_end_it():
    gate = asyncio.Event()

    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n")
        writer.write(b"6\r\ndata:1\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"6\r\ndata:2\r\n0\r\nX-Trailer: t\r\n\r\n")
        await server.read_request(reader)  # the connection is kept: a second request comes on it
        writer.write(answer(b"again"))

    async def test():
        async with Server(script) as server:
            pool = Pool()
            response = await call(pool, server.url)
            assert response.header("content-type") == "text/event-stream"
            assert await response.read_some() == b"data:1"
            assert await response.read_some(wait=0.05) is None  # nothing yet: time for a heartbeat
            gate.set()
            assert await response.read_some() == b"data:2"
            assert await response.read_some() == b""
            second = await call(pool, server.url)
            assert await second.read() == b"again"
            assert server.connections == 1

    run(test)


def test_a_body_without_length_ends_when_the_server_closes_and_is_not_kept():
    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end")

    async def test():
        async with Server(script) as server:
            pool = Pool()
            for _ in range(2):
                assert await (await call(pool, server.url)).read() == b"to the end"
            assert server.connections == 2

    run(test)


def test_informational_answers_are_skipped_and_head_answers_have_no_body():
    async def script(reader, writer, server):
        while True:
            head, _ = await server.read_request(reader)
            if head.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")  # no body follows a HEAD
            else:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"final"))

    async def test():
        async with Server(script) as server:
            pool = Pool()
            response = await call(pool, server.url, "POST", b"x")
            assert (response.status, await response.read()) == (200, b"final")
            response = await call(pool, server.url, "HEAD")
            assert (response.status, response.header("Content-Length"), await response.read()) == (200, "10", b"")
            assert server.connections == 1
            assert await (await call(pool, server.url)).read() == b"final"
            assert server.connections == 2  # after a HEAD the connection is not kept

    run(test)


def test_a_kept_connection_the_server_dropped_is_replaced_when_the_body_can_be_sent_again():
    async def test():
        async with Server(drops_the_second_request) as server:
            pool = Pool()
            assert await (await call(pool, server.url)).read() == b"first"
            assert await (await call(pool, server.url, "POST", b"again")).read() == b"second"
            assert server.connections == 2
            assert [body for _, body in server.requests] == [b"", b"again", b"again"]

    run(test)


def test_a_streamed_body_is_never_sent_twice():
    async def pieces() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b""
        yield b"two"

    async def test():
        async with Server(drops_the_second_request) as server:
            pool = Pool()
            assert await (await call(pool, server.url)).read() == b"first"
            with pytest.raises(Disconnected):
                await call(pool, server.url, "POST", pieces())
            assert server.requests[1][1] == b"one,two"  # sent chunked, whole
            assert b"transfer-encoding: chunked" in server.requests[1][0].lower()
            assert server.connections == 1

    run(test)


def test_a_body_cut_short_is_an_error_and_a_partly_read_answer_closes_its_connection():
    async def script(reader, writer, server):
        await server.read_request(reader)
        if server.connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
            return
        writer.write(answer(b"0123456789" * 200_000))
        await server.read_request(reader)
        writer.write(answer(b"never read"))

    async def test():
        async with Server(script) as server:
            pool = Pool()
            response = await call(pool, server.url)
            with pytest.raises(Disconnected):
                await response.read()
            response = await call(pool, server.url)
            assert len(await response.read_some()) > 0
            response.close()  # left unread: the connection cannot be kept
            response = await call(pool, server.url)
            assert await response.read() == b"0123456789" * 200_000
            assert server.connections == 3

    run(test)


@pytest.mark.parametrize(
    "written",
    [
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (http_connection.MAX_HEAD + 1) + b"\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ],
    ids=["head too large", "not http", "two lengths"],
)
def test_answers_that_are_not_readable_http_are_protocol_errors(written):
    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(written)
        await reader.read()

    async def test():
        async with Server(script) as server:
            with pytest.raises(ProtocolError):
                await (await call(Pool(), server.url)).read()

    run(test)


def test_a_second_answer_to_one_request_is_not_taken_for_the_next_request():
    async def script(reader, writer, server):
        while True:
            await server.read_request(reader)
            writer.write(answer(b"one") + answer(b"extra") if server.connections == 1 else answer(b"two"))

    async def test():
        async with Server(script) as server:
            pool = Pool()
            assert await (await call(pool, server.url)).read() == b"one"
            assert await (await call(pool, server.url)).read() == b"two"
            assert server.connections == 2

    run(test)


def test_read_timeout_counts_from_the_last_byte_and_the_deadline_bounds_the_whole_call():
    async def script(reader, writer, server):
        await server.read_request(reader)
        if server.connections == 1:
            await asyncio.sleep(5)  # no head at all
            return
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):  # a byte every 50 ms: never idle for the read timeout
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)

    async def test():
        async with Server(script) as server:
            pool = Pool()
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError):
                await call(pool, server.url, read_timeout=0.2)
            assert loop.time() - started < 2
            response = await call(pool, server.url, read_timeout=0.2, timeout=0.6)
            body = b""
            with pytest.raises(TimeoutError):
                while piece := await response.read_some():
                    body += piece
            assert 3 <= len(body) < 40 and loop.time() - started < 3

    run(test)


def test_unsafe_requests_are_refused_before_anything_is_sent_and_targets_are_encoded():
    async def test():
        async with Server(answers_ok) as server:
            pool = Pool()
            for headers in ({"x-goog-api-key": "AQ.key\r\nX-Injected: 1"}, {"bad\nname": "v"}, {"x": "\u2603"}):
                with pytest.raises(ValueError):
                    await call(pool, server.url, headers=headers)
            with pytest.raises(ValueError):
                await call(pool, "ftp://127.0.0.1/")
            assert server.connections == 0
            await (await call(pool, server.url + "/a b/\u00e9/%2F/x?q=1 2&k=%3F")).read()
            assert server.requests[0][0].startswith(b"GET /a%20b/%C3%A9/%2F/x?q=1%202&k=%3F HTTP/1.1\r\n")
            await (await call(pool, server.url + "/v1beta/models", headers={"Host": "example.test"})).read()
            assert b"\r\nHost: example.test\r\n" in server.requests[1][0]
            assert server.requests[1][0].count(b"Host:") == 1

    run(test)


def test_a_slow_reader_pauses_the_socket_instead_of_buffering_everything():
    size = 8 * 1024 * 1024

    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            writer.write(b"z" * 65536)
            await writer.drain()

    async def test():
        async with Server(script) as server:
            response = await call(Pool(), server.url)
            connection = response._connection
            assert connection is not None
            await asyncio.sleep(0.3)  # the server writes as fast as it may; nobody reads
            assert connection.paused
            assert connection.buffered <= http_connection.HIGH_WATER + 256 * 1024
            total = 0
            while piece := await response.read_some():
                total += len(piece)
            assert total == size

    run(test)


def test_a_reader_slower_than_the_read_timeout_is_not_taken_for_a_silent_server():
    first = http_connection.HIGH_WATER + 1  # enough to pause the socket, all of it read before the pause

    async def script(reader, writer, server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (first + 1) + b"q" * first)
        await writer.drain()
        await asyncio.sleep(1.3)  # 0.2 s after the reader came back: well within its read timeout
        writer.write(b"!")

    async def test():
        async with Server(script) as server:
            response = await call(Pool(), server.url, read_timeout=1.0)
            await asyncio.sleep(1.1)  # the reader is busy: the socket is paused, nothing is read
            total = 0
            while piece := await response.read_some():
                total += len(piece)
            assert total == first + 1

    run(test)


def test_kept_connections_expire_and_close_with_the_pool(monkeypatch):
    async def test():
        async with Server(answers_ok) as server:
            pool = Pool()
            await (await call(pool, server.url)).read()
            monkeypatch.setattr(http_client, "IDLE_SECONDS", 0.0)
            await (await call(pool, server.url)).read()
            assert server.connections == 2  # the kept one was too old to trust
            monkeypatch.setattr(http_client, "IDLE_SECONDS", 15.0)
            pool.close()
            with pytest.raises(OSError):
                await call(pool, "http://127.0.0.1:9/")  # nothing listens there: refused
            assert server.connections == 2

    run(test)


def test_an_answer_that_ended_while_the_socket_was_paused_leaves_it_reading_again():
    """The whole answer can arrive in the read that pauses the socket; the connection is
    then kept, and must read again for its next answer."""

    class Transport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.reading = True

        def pause_reading(self) -> None:
            self.reading = False

        def resume_reading(self) -> None:
            self.reading = True

    async def test():
        connection = http_connection.Connection(asyncio.get_running_loop())
        transport = Transport()
        connection.connection_made(transport)
        connection.reset(head_only=False)
        connection.data_received(answer(b"y" * (http_connection.HIGH_WATER + 1)))
        assert (connection.complete, connection.keep_alive, transport.reading) == (True, True, False)
        connection.reset(head_only=False)  # taken from the pool for the next request
        assert transport.reading and not connection.paused

    run(test)


def test_the_pool_keeps_connections_for_a_bounded_number_of_origins(monkeypatch):
    """Media fetches meet many origins: the pool's table stays bounded, and an origin
    whose kept connections are all gone is forgotten."""
    monkeypatch.setattr(http_client, "MAX_ORIGINS", 2)

    async def test():
        async with Server(answers_ok) as one, Server(answers_ok) as two, Server(answers_ok) as three:
            pool = Pool()
            for server in (one, two, three):
                await (await call(pool, server.url)).read()
            assert len(pool._idle) == 2  # the third origin's connection was closed, not kept
            await (await call(pool, three.url)).read()
            assert three.connections == 2
            monkeypatch.setattr(http_client, "IDLE_SECONDS", 0.0)
            await (await call(pool, three.url)).read()  # the old ones are swept to make room
            assert len(pool._idle) == 1 and three.connections == 3

    run(test)
