"""Cold start of the Lambda package on this machine (a benchmark, not a test).

    python bench/coldstart.py [--runs 7]

Builds the package for this machine (infra/build_package.py --arch host), then prints
the median of several runs of:
- `python -X importtime` total for `import handler.app` from the unpacked package,
  in an interpreter without site-packages (-S), with the precompiled `.pyc` files and
  without them on a read-only-like tree (what a cross-built package does on Lambda
  when it was not built with the runtime's Python version);
- the time from starting infra/run.sh (as the Lambda Web Adapter does) to the first
  answered GET /healthz.
Targets: import under 150 ms, first answer under 400 ms. On Lambda itself, read the
`Init Duration` of the REPORT log line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(dest: Path) -> tuple[Path, int]:
    subprocess.run([sys.executable, str(ROOT / "infra" / "build_package.py"), "--arch", "host",
                    "--out", str(dest / "pkg"), "--zip", str(dest / "pkg.zip")], check=True)
    return dest / "pkg", (dest / "pkg.zip").stat().st_size


def import_ms(package: Path, bytecode: bool) -> float:
    """Sum of the cumulative times of the top-level imports that `import handler.app` triggers."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(package)}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # /var/task is read-only: nothing gets cached
    done = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", "import handler.app"],
                          cwd=package, env=env, capture_output=True, text=True, check=True)
    total, started = 0, False
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        started = started or name.startswith("handler")
        raw_name = line.rsplit("|", 1)[1]
        if started and raw_name.startswith(" ") and not raw_name.startswith("  "):  # depth 0
            total += int(cumulative)
    return total / 1000


def first_answer_ms(package: Path, shim: Path) -> float:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"PATH": f"{shim}:{os.environ['PATH']}", "PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([str(package / "run.sh")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return (time.perf_counter() - started) * 1000
            except OSError:
                if time.perf_counter() - started > 20:
                    raise RuntimeError("run.sh did not answer /healthz within 20 s")
                time.sleep(0.002)
    finally:
        process.terminate()
        process.wait(10)


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

        with_pyc = statistics.median(import_ms(package, True) for _ in range(args.runs))
        without_pyc = statistics.median(import_ms(source_only, False) for _ in range(args.runs))
        first = statistics.median(first_answer_ms(package, shim) for _ in range(args.runs))
        print(f"Python {sys.version.split()[0]}, host package {zipped / 1e6:.2f} MB zipped, median of {args.runs} runs")
        print(f"import handler.app (-X importtime total), with .pyc:    {with_pyc:6.1f} ms (target < 150)")
        print(f"import handler.app (-X importtime total), without .pyc: {without_pyc:6.1f} ms")
        print(f"run.sh start -> first answered /healthz:               {first:6.1f} ms (target < 400)")


if __name__ == "__main__":
    main()
