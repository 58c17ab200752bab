"""A lean load generator for bench/field.py's throughput sweep: keep-alive HTTP/1.1
connections on uvloop, answers parsed by httptools (both already installed for the proxy).

Why not aiohttp: at a few thousand requests a second the client shares the 2 cores with
the fake upstream and the proxy, and aiohttp's per-call work (about three times this
one's) made the client, not the proxy, the limit of the fastest proxy: the sweep would
measure the load generator. One call at a time per connection, as a client does.
"""

from __future__ import annotations

import asyncio
import time

import httptools


class Connection(asyncio.Protocol):
    """One keep-alive connection: `call` sends a prepared request and waits for the whole
    answer (content-length or chunked), returning its status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    async def call(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def request_bytes(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode() + b"\r\n" + body


async def connect(port: int, request: bytes, concurrency: int) -> list[Connection]:
    """`concurrency` connections, each with one call made (the server's side is ready)."""
    loop = asyncio.get_running_loop()
    connections = [(await loop.create_connection(Connection, "127.0.0.1", port))[1] for _ in range(concurrency)]
    await asyncio.gather(*(connection.call(request) for connection in connections))
    return connections


async def drive(connections: list[Connection], request: bytes, total: int) -> tuple[float, list[float]]:
    """`total` calls over the connections, one at a time on each: (seconds, latencies in ms);
    the connections are closed after."""
    latencies: list[float] = []
    left = total

    async def client(connection: Connection) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            status = await connection.call(request)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"status {status}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        elapsed = time.perf_counter() - started
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return elapsed, latencies
