"""Refresh the corpus from a client release: run the client against the proxy (on the fake
Gemini, all on loopback) and write each request it sends, body and the headers that
matter, as a corpus file. Usage, from the repository root:

    python -m tests.corpus.capture claude-code "Say hello." --model sonnet
    python -m tests.corpus.capture openai-chat

Requests are written to tests/corpus/anthropic/claude-code-<n>.json (or
tests/corpus/openai-chat/recorded-<n>.json, from the installed openai SDK and LangChain
making the requests of tests/corpus/chat_clients.py); review them (keys are replaced by
KEY, paths by /work), then give each the `expect_dropped` it should get.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from starlette.types import Receive, Scope, Send

from handler.app import create_app
from handler.config import Settings

from ..conftest import KEY_A
from ..fake_gemini import FakeGemini
from ..servers import ServerThread

ROOT = Path(__file__).resolve().parents[2]
KEPT_HEADERS = (
    "anthropic-version",
    "anthropic-beta",
    "x-claude-code-session-id",
    "user-agent",
    "x-app",
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-runtime",
)


class Recorder:
    """ASGI middleware keeping each request to /v1/messages, or the path ending in
    `suffix` (path, headers, JSON body)."""

    def __init__(self, app, suffix: str = "/messages") -> None:
        self.app = app
        self.suffix = suffix
        self.seen: list[dict] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(self.suffix):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.decode() in KEPT_HEADERS}
        query = scope["query_string"].decode()
        self.seen.append({"path": scope["path"] + (f"?{query}" if query else ""), "headers": headers, "body": body})
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def chat(out: Path) -> None:
    """The openai SDK's and LangChain's requests (tests/corpus/chat_clients.py), recorded."""
    from .chat_clients import run

    fake = FakeGemini()
    upstream = ServerThread(fake.app()).start()
    recorder = Recorder(create_app(Settings.from_env({"GEMINI_BASE_URL": upstream.url})), "/chat/completions")
    proxy = ServerThread(recorder).start()
    run(proxy.url + "/v1", KEY_A)
    proxy.stop()
    upstream.stop()
    for n, seen in enumerate(recorder.seen, start=1):
        capture = {"client": "", "path": seen["path"], "headers": seen["headers"], "body": json.loads(seen["body"])}
        (out / f"recorded-{n}.json").write_text(json.dumps(capture, indent=1).replace(KEY_A, "KEY") + "\n")
    print(f"{len(recorder.seen)} requests written to {out}")


def main(client: str, *args: str) -> None:
    if client == "openai-chat":
        chat(ROOT / "tests" / "corpus" / "openai-chat")
        return
    if client != "claude-code":
        raise SystemExit("claude-code and openai-chat are captured by running them; write others from their docs")
    fake = FakeGemini()
    upstream = ServerThread(fake.app()).start()
    recorder = Recorder(create_app(Settings.from_env({"GEMINI_BASE_URL": upstream.url})))
    proxy = ServerThread(recorder).start()
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "ANTHROPIC_BASE_URL": proxy.url,
            "ANTHROPIC_API_KEY": KEY_A,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        claude = ROOT / "node_modules" / ".bin" / "claude"
        subprocess.run([str(claude), "-p", *args], cwd=home, env=env, timeout=300, check=False)
    proxy.stop()
    upstream.stop()
    out = ROOT / "tests" / "corpus" / "anthropic"
    out.mkdir(parents=True, exist_ok=True)
    for n, seen in enumerate(recorder.seen, start=1):
        text = seen["body"].decode().replace(KEY_A, "KEY").replace(home, "/work")
        capture = {"client": "claude-code", "path": seen["path"], "headers": seen["headers"], "body": json.loads(text)}
        (out / f"claude-code-{n}.json").write_text(json.dumps(capture, indent=1) + "\n")
    print(f"{len(recorder.seen)} requests written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
