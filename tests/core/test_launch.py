"""handler.launch: run.sh's start command, uvicorn without its command line and supervisors."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from handler import launch

from ..conftest import KEY_A
from ..servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def run_sh_arguments() -> list[str]:
    """The arguments infra/run.sh gives handler.launch, its shell variables filled in."""
    text = (ROOT / "infra" / "run.sh").read_text().replace("\\\n", " ")
    line = re.search(r"exec python -m handler\.launch (.*)", text)
    assert line, "run.sh starts handler.launch"
    return shlex.split(line.group(1).replace('"${AWS_LWA_PORT:-${PORT:-8080}}"', "8080"))


def test_parses_every_option_run_sh_gives():
    app, options = launch.parse(run_sh_arguments())
    assert app == "handler.app:app"
    assert options == {
        "host": "0.0.0.0",
        "port": 8080,
        "loop": "uvloop",
        "http": "handler.server:GuardedHttpTools",
        "timeout_keep_alive": 5,
        "limit_concurrency": 1000,
        "access_log": False,
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "usage"),
        (["--port", "1"], "usage"),
        (["handler.app:app", "--reload"], "not --reload"),
        (["handler.app:app", "--port"], "not --port"),
        (["handler.app:app", "--port", "eighty"], "--port: not a int"),
    ],
)
def test_refuses_what_it_does_not_take(argv, says):
    with pytest.raises(SystemExit, match=says):
        launch.parse(argv)


def test_loads_the_server_without_uvicorns_command_line():
    """What it exists for: neither click nor the multi-process supervisors are imported."""
    code = (
        "import sys; from handler import launch; launch.bare_uvicorn();"
        "import uvicorn.config, uvicorn.server, uvicorn.lifespan.on, uvicorn.protocols.http.httptools_impl;"
        "import handler.server;"
        "print(sorted(m for m in ('click', 'multiprocessing', 'uvicorn.main', 'uvicorn.supervisors') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_serves_the_app_with_the_guarded_protocol(fake, fake_url, tmp_path):
    port = free_port()
    argv = ["handler.app:app", "--host", "127.0.0.1", "--port", str(port), "--http", "handler.server:GuardedHttpTools"]
    log = (tmp_path / "out").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "handler.launch", *argv, "--no-access-log"],
        cwd=ROOT,
        env={**os.environ, "GEMINI_BASE_URL": fake_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_healthy(proc, url).status_code == 200
        r = httpx.post(
            url + "/v1beta/models/gemini-2.5-flash:generateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": KEY_A},
        )
        assert r.status_code == 200
        assert len(fake.generate_calls) == 1
        # The guarded protocol: headers past its limit (64 KiB) get a 431.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 70_000 + b"\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 431")
    finally:
        proc.terminate()
        proc.wait(10)
    log.seek(0)
    output = log.read()
    log.close()
    assert KEY_A not in output
    assert "Traceback" not in output
