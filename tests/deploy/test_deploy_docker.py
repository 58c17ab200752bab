"""The Dockerfile, statically (no Docker here), plus its CMD run as written under the test's Python."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ..servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def included(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context (last matching rule wins)."""
    keep = True
    for rule in (ROOT / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*") or path == pattern:
            keep = negate
    return keep


def test_dockerfile_is_small_and_copies_what_exists():
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.13-slim")
    copies = [rest.split() for word, rest in steps if word == "COPY"]
    assert copies == [["requirements.txt", "."], ["handler/", "handler/"]]
    for source, _ in copies:
        assert (ROOT / source).exists(), source
        files = (
            [source]
            if (ROOT / source).is_file()
            else [p.relative_to(ROOT).as_posix() for p in (ROOT / source).rglob("*.py")]
        )
        assert files and all(included(f) for f in files), source
    assert not included("tests/core/test_native.py") and not included("build/lambda-arm64.zip")
    assert not included("handler/__pycache__/app.cpython-313.pyc")
    runs = [rest for word, rest in steps if word == "RUN"]
    assert any("pip install --no-cache-dir" in r and "-r requirements.txt" in r for r in runs)
    assert ("USER", "proxy") in steps  # not root


def test_cmd_starts_the_app_on_port(tmp_path):
    """The CMD exactly as the image runs it, on a free $PORT: /healthz answers."""
    (cmd,) = [json.loads(rest) for word, rest in instructions() if word == "CMD"]
    assert cmd[:2] == ["sh", "-c"] and "handler.app:app" in cmd[2] and '"${PORT:-8080}"' in cmd[2]
    port = free_port()
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PORT": str(port), "HOME": str(tmp_path)}
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        r = wait_healthy(process, f"http://127.0.0.1:{port}")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode in (0, -15)  # exec'd: uvicorn itself got the signal and stopped
    assert shlex.split(cmd[2])[0] == "exec"
