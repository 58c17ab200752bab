"""The contract between the server protocol (handler.server) and the app about a
client that goes away mid-request.

ASGI tells an app of a lost client only through `receive()`, so watching for it takes a
task per request that waits on `receive()` (`DisconnectWatch` below does that under any
server). The shipped protocol, which sees the connection drop first-hand, puts a
`Disconnect` in each request's scope (`scope["extensions"][KEY]`) and calls `lost()`
on it: the watch then costs a callback instead of a task (a measurable part of the CPU
of a native call). Under any other server (Mangum, plain uvicorn) the key is absent and
the task is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import Receive, Scope

from .errors import ProxyError
from .logs import logger

T = TypeVar("T")

KEY = "gemini_edge_proxy.disconnect"


class Disconnect:
    __slots__ = ("callback", "gone")

    def __init__(self) -> None:
        self.gone = False  # the connection was lost before the response was complete
        self.callback: Callable[[], None] | None = None  # set while a watch is on

    def lost(self) -> None:
        self.gone = True
        if self.callback is not None:
            self.callback()


class ClientGone(ProxyError):
    """The client went away (mid-body, or before the answer): nothing more to send it.
    Rendered, if at all, as 499 (nginx's "client closed request") for the access log."""

    status = 499

    def __init__(self) -> None:
        super().__init__("The client closed the request.")


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class DisconnectWatch:
    """`async with DisconnectWatch(scope, receive):` the work inside runs in this task,
    cancelled the moment the client goes away, which surfaces as ClientGone (as
    `asyncio.timeout` cancels on expiry). Under the shipped server protocol the signal
    comes from the connection itself (`Disconnect`); elsewhere a small watch task waits
    on `receive`. No extra hop through the loop for the work itself: an answer is read as
    soon as it comes. `receive` must be free: enter only after the request body was read.
    """

    __slots__ = ("current", "gone", "outer", "receive", "signal", "watcher")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.receive = receive
        self.signal: Disconnect | None = (scope.get("extensions") or {}).get(KEY)
        self.outer: Callable[[], None] | None = None  # a watch this one is nested in
        self.gone = False
        self.current: asyncio.Task[Any] | None = None
        self.watcher: asyncio.Future[Any] | None = None

    def _lost(self) -> None:
        self.gone = True
        assert self.current is not None
        self.current.cancel()

    async def _watch(self) -> None:
        await _wait_disconnect(self.receive)
        self._lost()

    async def __aenter__(self) -> DisconnectWatch:
        self.current = asyncio.current_task()
        if self.signal is None:
            self.watcher = asyncio.ensure_future(self._watch())
        elif self.signal.gone:
            raise ClientGone()
        else:
            self.outer, self.signal.callback = self.signal.callback, self._lost
        return self

    async def __aexit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        assert self.current is not None
        if self.signal is not None:
            self.signal.callback = self.outer
        elif self.watcher is not None:
            self.watcher.cancel()  # not awaited: the answer goes on at once; the watch ends on its own
        if kind is asyncio.CancelledError and self.gone and self.current.uncancel() == 0:
            raise ClientGone() from None


async def until_disconnect(scope: Scope, receive: Receive, work: Awaitable[T], streamed_body: bool = False) -> T:
    """`work` (an upstream call), cancelled at once if the client goes away first
    (ClientGone). Without this, a non-streamed call whose client left would run on to
    READ_TIMEOUT. When the request body is still being streamed upstream, `receive`
    belongs to that body: no watch then (the body's own reader sees the disconnect)."""
    if streamed_body:
        return await work
    async with DisconnectWatch(scope, receive):
        return await work


async def relay(scope: Scope, receive: Receive, pump: Callable[[], Awaitable[None]]) -> None:
    """Run `pump` (which sends the response) until it ends or the client goes away.

    uvicorn drops writes to a closed connection silently, so without this watch a
    stream whose client left would keep the upstream call open to its end. A pump that
    fails after the response started cannot change the status: the stream ends there
    (no clean end) and the log says why.
    """
    try:
        async with DisconnectWatch(scope, receive):
            await pump()
    except ClientGone:
        pass
    except Exception as exc:  # noqa: BLE001 - the response has started: end it, log why
        logger.warning("stream ended early", extra={"fields": {"error": type(exc).__name__}})
