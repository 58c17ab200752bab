"""Cold start of the Lambda package on this machine (a benchmark, not a test).

    python bench/coldstart.py [--runs 7]

Builds the package for this machine (infra/build_package.py --arch host), then prints
the median of several runs of:
- `python -X importtime` total for `import handler.app` from the unpacked package,
  in an interpreter without site-packages (-S), with the precompiled `.pyc` files and
  without them on a read-only-like tree (what a cross-built package does on Lambda
  when it was not built with the runtime's Python version);
- the time from starting infra/run.sh (as the Lambda Web Adapter does) to the first
  answered GET /healthz;
- the time from starting infra/run.sh to the first successful proxied native call
  (a generateContent against the local fake upstream, bench/upstream.py): what a user of
  a cold Lambda waits for, HTTP client load included; then the same against the fake
  upstream over TLS, with the system's CA bundle to load as at Google;
- for scale, the same for a bare ASGI hello-world under uvicorn with the same options
  (started as run.sh starts the proxy, through handler.launch).
Targets: first proxied call at most 120 ms, readiness no slower than before. On Lambda
itself, read the `Init Duration` of the REPORT log line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(dest: Path) -> tuple[Path, int]:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "infra" / "build_package.py"),
            "--arch",
            "host",
            "--out",
            str(dest / "pkg"),
            "--zip",
            str(dest / "pkg.zip"),
        ],
        check=True,
    )
    return dest / "pkg", (dest / "pkg.zip").stat().st_size


def import_ms(package: Path, bytecode: bool) -> float:
    """Sum of the cumulative times of the top-level imports that `import handler.app` triggers."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(package)}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # /var/task is read-only: nothing gets cached
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", "import handler.app"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    total, started = 0, False
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        started = started or name.startswith("handler")
        raw_name = line.rsplit("|", 1)[1]
        if started and raw_name.startswith(" ") and not raw_name.startswith("  "):  # depth 0
            total += int(cumulative)
    return total / 1000


HELLO = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
"""
GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode()
KEY = "AQ.bench-cold-start-key-0000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answered(port: int, path: str, tls: ssl.SSLContext | None = None, key: str = KEY) -> bool:
    """One attempt at the call (a POST for a generate path, any proxy's); True on a 200."""
    if tls is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    else:
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=tls)
    try:
        if path.endswith(":generateContent"):
            connection.request("POST", path, BODY, {"x-goog-api-key": key, "content-type": "application/json"})
        else:
            connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def time_to_answer_ms(
    command: list[str], env: dict[str, str], port: int, path: str, key: str = KEY, seconds: float = 20
) -> float:
    """From spawning `command` to the first 200 on `path`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not answered(port, path, key=key):
            if time.perf_counter() - started > seconds:
                raise RuntimeError(f"{command[0]} did not answer {path} within {seconds:g} s")
            time.sleep(0.001)
        return (time.perf_counter() - started) * 1000
    finally:
        process.terminate()
        process.wait(10)


def run_sh_ms(package: Path, shim: Path, path: str, upstream: str = "", **env_extra: str) -> float:
    port = free_port()
    env = {
        "PATH": f"{shim}:{os.environ['PATH']}",
        "PORT": str(port),
        "GEMINI_BASE_URL": upstream or "http://127.0.0.1:9",
        **env_extra,
    }
    return time_to_answer_ms([str(package / "run.sh")], env, port, path)


def hello_ms(package: Path, shim: Path, hello: Path) -> float:
    port = free_port()
    env = {"PATH": f"{shim}:{os.environ['PATH']}", "PYTHONPATH": f"{hello}:{package}"}
    command = [
        str(shim / "python"),
        "-m",
        "handler.launch",  # as run.sh starts the proxy (the package holds no uvicorn command line)
        "hello:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
    ]
    return time_to_answer_ms(command, env, port, "/healthz")


def start_upstream(tls: tuple[Path, Path] | None = None) -> tuple[subprocess.Popen, str]:
    """bench/upstream.py under uvicorn; over TLS with `tls` (certificate, key)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.upstream:app", "--port", str(port), "--log-level", "warning"]
    check = None
    if tls is not None:
        command += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
        check = ssl._create_unverified_context()  # only to see it is up
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not answered(port, "/v1beta/models", check):
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the fake upstream did not start")
        time.sleep(0.02)
    return process, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def tls_files(folder: Path) -> tuple[tuple[Path, Path], Path]:
    """A certificate for 127.0.0.1 from a test CA, and a CA bundle for the proxy: the
    system's whole bundle plus that CA, so that loading it costs what it costs at Google."""
    import trustme  # a test dependency (requirements-dev.txt)

    ca = trustme.CA()
    cert, key, bundle = folder / "cert.pem", folder / "key.pem", folder / "bundle.pem"
    issued = ca.issue_cert("127.0.0.1")
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    system = ssl.get_default_verify_paths().cafile
    bundle.write_bytes((Path(system).read_bytes() if system else b"") + ca.cert_pem.bytes())
    return (cert, key), bundle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        package, zipped = build(tmp_path)
        source_only = tmp_path / "source-only"
        shutil.copytree(package, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        shim = tmp_path / "bin"
        shim.mkdir()
        (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
        (shim / "python").chmod(0o755)

        hello = tmp_path / "hello"
        hello.mkdir()
        (hello / "hello.py").write_text(HELLO)
        tls, bundle = tls_files(tmp_path)
        upstream, upstream_url = start_upstream()
        upstream_tls, upstream_tls_url = start_upstream(tls)
        try:
            with_pyc = statistics.median(import_ms(package, True) for _ in range(args.runs))
            without_pyc = statistics.median(import_ms(source_only, False) for _ in range(args.runs))
            bare = statistics.median(hello_ms(package, shim, hello) for _ in range(args.runs))
            ready = statistics.median(run_sh_ms(package, shim, "/healthz") for _ in range(args.runs))
            first = statistics.median(run_sh_ms(package, shim, GENERATE, upstream_url) for _ in range(args.runs))
            first_tls = statistics.median(
                run_sh_ms(package, shim, GENERATE, upstream_tls_url, SSL_CERT_FILE=str(bundle))
                for _ in range(args.runs)
            )
        finally:
            for process in (upstream, upstream_tls):
                process.terminate()
                process.wait(10)
        print(f"Python {sys.version.split()[0]}, host package {zipped / 1e6:.2f} MB zipped, median of {args.runs} runs")
        print(f"import handler.app (-X importtime total), with .pyc:    {with_pyc:6.1f} ms")
        print(f"import handler.app (-X importtime total), without .pyc: {without_pyc:6.1f} ms")
        print(f"bare ASGI hello-world under uvicorn -> first answer:    {bare:6.1f} ms (for scale)")
        print(f"run.sh start -> first answered /healthz:               {ready:6.1f} ms")
        print(
            f"run.sh start -> first proxied native call (200):       {first:6.1f} ms "
            f"({first - bare:+.1f} over hello-world; target <= 120 where hello-world takes 85: +35)"
        )
        print(f"  the same against an https upstream (CA bundle loaded): {first_tls:6.1f} ms")


if __name__ == "__main__":
    main()
