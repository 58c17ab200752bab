"""Real HTTP servers on loopback for the tests: uvicorn in a background thread, or a
start command in a subprocess (`free_port`, `wait_healthy`)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time

import httpx
import uvicorn


def free_port() -> int:
    """A loopback port free now, for a server started in a subprocess."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(process: subprocess.Popen, url: str, seconds: float = 20.0) -> httpx.Response:
    """The first `/healthz` answer of the server `process` started at `url`; the test
    fails if the process exits first (with its stderr, when piped) or stays silent."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else "the server exited"
        try:
            return httpx.get(url + "/healthz", timeout=1)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer /healthz"
            time.sleep(0.02)


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and an ephemeral port."""

    def __init__(self, app, **config) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config.setdefault("log_level", "warning")
        config.setdefault("lifespan", "on")
        self.server = uvicorn.Server(uvicorn.Config(app, loop="asyncio", **config))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
