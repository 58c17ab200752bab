"""The README's run command, as a newcomer types it: uvicorn in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from ..conftest import KEY_A, KEY_B
from ..servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def test_readme_command_serves_and_never_logs_keys(fake, fake_url, tmp_path):
    port = free_port()
    readme = (ROOT / "README.md").read_text()
    assert "uvicorn handler.app:app --port 8000" in readme
    log = (tmp_path / "stderr").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "handler.app:app", "--port", str(port)],  # uvicorn's defaults: access log on
        cwd=ROOT,
        env={**os.environ, "GEMINI_BASE_URL": fake_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(proc, url)
        r = httpx.post(
            url + "/v1beta/models/gemini-2.5-flash:generateContent",
            params={"key": f"{KEY_A},{KEY_B}"},
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
        assert r.status_code == 200
        assert fake.received[-1].key in (KEY_A, KEY_B)
    finally:
        proc.terminate()
        proc.wait(10)
    log.seek(0)
    output = log.read()
    assert '"path":"/v1beta/models/gemini-2.5-flash:generateContent"' in output  # our JSON line
    assert KEY_A not in output and KEY_B not in output
