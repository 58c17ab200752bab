"""The contract between the server protocol (handler.server) and the app about a
client that goes away mid-request.

ASGI tells an app of a lost client only through `receive()`, so watching for it takes a
task per request that waits on `receive()` (streaming.DisconnectWatch does that under any
server). The shipped protocol, which sees the connection drop first-hand, puts a
`Disconnect` in each request's scope (`scope["extensions"][KEY]`) and calls `lost()`
on it: the watch then costs a callback instead of a task (a measurable part of the CPU
of a native call). Under any other server (Mangum, plain uvicorn) the key is absent and
the task is used.
"""

from __future__ import annotations

from collections.abc import Callable

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
