"""The Lambda package: built by infra/build_package.py, unpacked, imported and run in isolation.

Two builds: the real deploy artifact (arm64, Python 3.13 manylinux wheels, picked by
pip's --platform options) whose binaries and size are checked, and a build for this
machine's platform and Python, which is the one that can actually be imported and
started here (the test machine runs neither arm64 nor necessarily Python 3.13). The
isolated interpreter runs with -S: no site-packages, so every import must come from
the unpacked package or the standard library, as on Lambda.

The builds are offline (pip --no-index) from the wheelhouse that the README's test
command fills first (`python infra/build_package.py --fetch-wheels build/wheels`): tests
reach nothing beyond loopback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import KEY_A
from ..fake_gemini import text_response
from ..servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3 * 1000 * 1000  # the project's own cap on the zipped package (issue 24: under 3 MB)
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
ELF_MACHINE = {183: "aarch64", 62: "x86_64"}
WHEELS = ROOT / "build" / "wheels"


def start_build(arch: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "infra" / "build_package.py"),
            "--arch",
            arch,
            "--out",
            str(out / "pkg"),
            "--zip",
            str(out / "pkg.zip"),
            "--wheels",
            str(WHEELS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(build: subprocess.Popen) -> tuple[int, str]:
    _, stderr = build.communicate(timeout=180)
    return build.returncode, stderr


def unzip(zip_path: Path, dest: Path) -> Path:
    """Unpack as Lambda does, keeping the Unix modes stored in the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            archive.extract(info, dest)
            os.chmod(dest / info.filename, (info.external_attr >> 16) & 0o777)
    return dest


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """Both builds at once, offline from the wheelhouse."""
    missing = [arch for arch in ("host", "arm64") if not any((WHEELS / arch).glob("*.whl"))]
    if missing:
        pytest.skip(
            f"no wheelhouse for {missing} in {WHEELS}: run `python infra/build_package.py --fetch-wheels "
            "build/wheels` first (the README's test command does)"
        )
    outs = {arch: tmp_path_factory.mktemp(arch) for arch in ("host", "arm64")}
    started = {arch: (start_build(arch, out), out) for arch, out in outs.items()}
    yield started
    for build, _ in started.values():  # a build no selected test waited for
        if build.poll() is None:
            build.kill()
        build.communicate()


@pytest.fixture(scope="module")
def host_package(builds) -> Path:
    build, out = builds["host"]
    returncode, stderr = finish(build)
    assert returncode == 0, stderr[-2000:]
    assert "built " in stderr and "MB zipped" in stderr  # the size is reported
    return unzip(out / "pkg.zip", out / "unpacked")


@pytest.fixture(scope="module")
def arm64_zip(builds) -> Path:
    build, out = builds["arm64"]
    returncode, stderr = finish(build)
    assert returncode == 0, stderr[-2000:]
    return out / "pkg.zip"


def names_in(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_arm64_package_has_linux_arm64_binaries_and_stays_small(arm64_zip, tmp_path):
    size = arm64_zip.stat().st_size
    print(f"arm64 package: {size / 1e6:.2f} MB zipped")
    assert size < LIMIT
    names = names_in(arm64_zip)
    libraries = [n for n in names if n.endswith(".so")]
    for module in ("uvloop/loop", "httptools/parser/parser", "yarl/_quoting_c", "multidict/_multidict"):
        assert any(n.startswith(module + ".cpython-313-aarch64-linux-gnu") for n in libraries), module
    unpacked = unzip(arm64_zip, tmp_path)
    for name in libraries:
        header = (unpacked / name).read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and ELF_MACHINE.get(int.from_bytes(header[18:20], "little")) == "aarch64", name
    # Precompiled only when the building Python is the runtime's own version.
    compiled = [n for n in names if n.endswith(".pyc")]
    assert bool(compiled) == (sys.version_info[:2] == (3, 13))
    assert all(".cpython-313." in n for n in compiled)


def test_host_package_contents(host_package):
    files = [p.relative_to(host_package).as_posix() for p in host_package.rglob("*") if p.is_file()]
    top = {f.split("/")[0] for f in files}
    assert {"handler", "run.sh", "starlette", "yarl", "uvicorn", "mangum", "uvloop", "httptools"} <= top
    assert "aiohttp" not in top  # the HTTP client is the project's own (handler/upstream/)
    assert {"handler/app.py", "handler/lambda_function.py", "handler/config.py"} <= set(files)
    assert (host_package / "run.sh").stat().st_mode & stat.S_IXUSR
    assert not {"boto3", "botocore", "s3transfer", "bin"} & top  # boto3 is in the Lambda runtime
    assert not [f for f in files if "/tests/" in f or "/test/" in f or f.endswith((".pyi", ".pyx", ".c"))]
    assert not [f for f in files if f.endswith(".dist-info/RECORD")]
    # Bytecode only from the build's own compile (unchecked hash, this Python), never a stale cache.
    tag = sys.implementation.cache_tag
    for pyc in (f for f in files if f.endswith(".pyc")):
        assert f".{tag}." in pyc, pyc
        flags = int.from_bytes((host_package / pyc).read_bytes()[4:8], "little")
        assert flags == 0b01, pyc  # hash-based, not checked against the source's mtime
    zipped = sum(1 for _ in host_package.rglob("*.pyc"))
    assert zipped > 100  # the app and its libraries, precompiled


def test_host_package_stays_small(builds, host_package):
    size = (builds["host"][1] / "pkg.zip").stat().st_size
    print(f"host package: {size / 1e6:.2f} MB zipped")
    assert size < LIMIT


def test_what_the_app_imports_has_bytecode(builds, host_package):
    """The build leaves out the `.pyc` of library modules the app never imports
    (build_package.UNCOMPILED): none of them may be on the way of a cold start or of a
    first call (every route's module is imported here, and a streamed Starlette answer sent)."""
    script = (
        "import importlib, importlib.util, json, os, pkgutil, sys\n"
        "from handler import launch\n"
        "launch.bare_uvicorn()\n"
        "from uvicorn.config import Config\n"
        "Config('handler.app:app', loop='uvloop', http='handler.server:GuardedHttpTools').load()\n"
        "import handler, handler.lambda_function\n"
        "for found in pkgutil.walk_packages(handler.__path__, 'handler.'):\n"
        "    importlib.import_module(found.name)\n"
        "import asyncio, starlette.responses\n"  # a streamed Starlette answer (/verify) loads anyio's backend
        "async def stream():\n"
        "    async def send(message): pass\n"
        "    async def receive(): await asyncio.sleep(5)\n"
        "    scope = {'type': 'http', 'asgi': {'spec_version': '2.4'}, 'method': 'GET', 'headers': []}\n"
        "    await starlette.responses.StreamingResponse(iter([b'x']))(scope, receive, send)\n"
        "asyncio.run(stream())\n"
        "here = os.getcwd() + os.sep\n"
        "files = {m.__file__ for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or '').startswith(here)}\n"
        "print(json.dumps(sorted(os.path.relpath(importlib.util.cache_from_source(f), here)\n"
        "                        for f in files if f.endswith('.py'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=host_package,
        env=isolated_env(host_package, GEMINI_BASE_URL="http://127.0.0.1:9", PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    wanted = json.loads(done.stdout)
    shipped = set(names_in(builds["host"][1] / "pkg.zip"))
    assert len(wanted) > 100
    assert [name for name in wanted if name not in shipped] == []
    assert not [name for name in shipped if name.startswith("click/") and name.endswith(".pyc")]  # some are left out


def isolated_env(package: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(package), "LANG": "C.UTF-8", **extra}


def test_app_imports_from_the_unpacked_package_alone(host_package, fake_url):
    script = (
        "import json, sys\n"
        "import handler.app, handler.lambda_function\n"
        "try:\n    import boto3\nexcept ImportError:\n    boto3 = None\n"
        "files = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)})\n"
        "print(json.dumps({'app': handler.app.__file__, 'boto3': boto3 is not None, 'files': files,\n"
        "                  'handler': type(handler.lambda_function.handler).__name__}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", script],
        cwd=host_package,
        env=isolated_env(host_package, GEMINI_BASE_URL=fake_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["app"] == str(host_package / "handler" / "app.py")
    assert seen["handler"] == "Mangum"
    assert seen["boto3"] is False  # neither packaged nor leaking in from the test environment
    stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
    outside = [f for f in seen["files"] if not f.startswith((str(host_package), *stdlib))]
    assert outside == []
    assert any(f.startswith(str(host_package / "starlette")) for f in seen["files"])


@pytest.mark.parametrize("port_variable", ["AWS_LWA_PORT", "PORT"])
def test_run_sh_serves_healthz_and_streams(host_package, fake, fake_url, tmp_path, port_variable):
    """The adapter's view: start run.sh with the port set, wait for /healthz, then relay a streamed call."""
    shim = tmp_path / "bin"
    shim.mkdir()
    # `python` on the Lambda PATH is the bare runtime; here, the test's Python without site-packages.
    (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    (shim / "python").chmod(0o755)
    port = free_port()
    env = isolated_env(host_package, GEMINI_BASE_URL=fake_url, PATH=f"{shim}:{os.environ['PATH']}")
    env[port_variable] = str(port)
    del env["PYTHONPATH"]  # run.sh sets it
    process = subprocess.Popen(
        [str(host_package / "run.sh")], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(process, base)
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        fake.reply(events=[text_response(str(i), finish=None) for i in range(3)], delay=0.4)
        with httpx.stream("POST", base + STREAM, json=BODY, headers={"x-goog-api-key": KEY_A}, timeout=10) as r:
            chunks = r.iter_raw()
            first = next(chunks)
            first_at = time.monotonic()
            rest = b"".join(chunks)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert first.startswith(b"data: ")
        assert len(fake.event_times) == 3
        assert first_at < fake.event_times[-1]  # streamed, not gathered
        assert (first + rest).count(b"data: ") == 3
        (seen,) = fake.received
        assert seen.key == KEY_A and seen.path.endswith(":streamGenerateContent")

        # uvloop and httptools from the package are the ones loaded.
        maps = Path(f"/proc/{process.pid}/maps")
        if maps.exists():
            loaded = maps.read_text()
            assert str(host_package / "uvloop") in loaded and str(host_package / "httptools") in loaded
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "Uvicorn running" in err
    assert '"GET /healthz HTTP/1.1" 200' not in err  # no uvicorn access log: the app writes its own
    assert KEY_A not in err


def test_build_refuses_to_empty_the_repository():
    done = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "build_package.py"), "--arch", "host", "--out", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "refusing to empty" in done.stderr
    assert (ROOT / "template.yaml").exists() and (ROOT / "handler" / "app.py").exists()
