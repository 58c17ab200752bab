"""Build the AWS Lambda package: the app, its start script and Linux wheels for the target.

    python infra/build_package.py                      # arm64, Python 3.13 -> build/lambda-arm64(.zip)
    python infra/build_package.py --arch x86_64
    python infra/build_package.py --arch host          # this machine's platform and Python (tests)

Why not a plain `pip install`: uvloop, httptools, yarl and its helpers are compiled,
and a package built on a Mac or an x86 laptop would carry the wrong binaries. pip's
`--platform/--python-version/--implementation/--only-binary` options fetch the
manylinux wheels of the Lambda runtime instead, on any build machine, without Docker.

The same package serves both deploy modes: `run.sh` for the Lambda Web Adapter
(stream) and `handler.lambda_function.handler` for Mangum (buffered). boto3 is not
packaged: the Lambda Python runtime has it, and the app imports it only when a
Secrets Manager secret is configured.

Bytecode: /var/task is read-only on Lambda, so a package without `.pyc` files
compiles every module at each cold start. When the building Python has the target's
version, the build precompiles (unchecked-hash `.pyc`, valid whatever the file times
in the zip); otherwise it says so, and building with that Python version (or
`sam build --use-container`) gives the faster cold start. Only the modules the app
imports get bytecode: the libraries' parts it never loads (`UNCOMPILED`: uvicorn's
command line and supervisors, anyio's trio backend, ...) ship as sources only, and two
packages nothing in it imports (`NEVER_IMPORTED`: click, h11) and the modules that need
what it does not hold (`UNIMPORTABLE`) are left out, which keeps
the package under 3 MB zipped; a module of that list imported after all is compiled in
memory, as without a `.pyc`.
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
DEFAULT_PYTHON = "3.13"  # the template's runtime: python3.13
ZIP_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a directly uploaded zip
# In the Lambda runtime already; never shipped even if something pulls them in.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
# Installed as uvicorn's requirements, never imported in the Lambda package: click only by
# uvicorn's command line (`uvicorn/main.py`), h11 only by its h11 protocol; run.sh starts
# uvicorn through handler.launch with httptools, and the buffered handler has no uvicorn.
NEVER_IMPORTED = ("click", "h11")
# Library modules that import what the package does not hold (click, h11, trio, pytest,
# httpx, websockets, wsproto, zttp), so they cannot be imported there anyway.
UNIMPORTABLE = (
    "uvicorn/__main__.py",
    "uvicorn/main.py",
    "uvicorn/protocols/http/h11_impl.py",
    "uvicorn/protocols/http/auto_zttp_impl.py",
    "uvicorn/protocols/http/zttp_impl.py",
    "uvicorn/protocols/http/zttp_h2_impl.py",
    "uvicorn/protocols/websockets/websockets_impl.py",
    "uvicorn/protocols/websockets/websockets_sansio_impl.py",
    "uvicorn/protocols/websockets/wsproto_impl.py",
    "anyio/_backends/_trio.py",
    "anyio/pytest_plugin.py",
    "starlette/testclient.py",
)
# Build-time leftovers with no use at run time.
JUNK_DIRS = ("__pycache__", "tests", "test")
JUNK_SUFFIXES = (".pyc", ".pyi", ".pyx", ".pxd", ".pxi", ".c", ".h", ".cpp")
JUNK_DIST_INFO = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible zips
# Library modules the app never imports (handler.launch, the Mangum handler and every
# route, streamed or not): no `.pyc` for them. Regular expressions on the path inside the
# package; tests/deploy/test_deploy_package.py checks that what the app imports has bytecode.
UNCOMPILED = (
    # anyio: Starlette's StreamingResponse (/verify) loads its asyncio backend; not these.
    r"anyio/_backends/_trio\.py",
    r"anyio/(pytest_plugin|to_process|to_interpreter|from_thread|functools|itertools)\.py",
    r"anyio/_core/_(fileio|subprocesses|signals|tempfile|asyncio_selector_thread)\.py",
    r"anyio/streams/(buffered|file|text)\.py",
    r"uvicorn/(__main__|main|workers|_subprocess)\.py",
    r"uvicorn/supervisors/",
    r"uvicorn/protocols/websockets/(?!__init__|auto)",
    r"uvicorn/protocols/http/(h11|zttp|auto)",
    r"uvicorn/loops/(asyncio|auto|zuvloop)\.py",
    r"uvicorn/lifespan/off\.py",
    r"starlette/(testclient|templating|staticfiles|schemas|authentication|endpoints|config|status)\.py",
    r"starlette/middleware/(authentication|sessions|gzip|httpsredirect|trustedhost|wsgi|opentelemetry|base)\.py",
    r"[^/]+/_[a-z_]+_py\.py",  # pure-Python fallbacks of compiled modules (multidict, yarl, propcache)
    r"uvloop/_testbase\.py",
    r"idna/uts46data\.py",  # idna's table for non-ASCII host names, loaded on first use
)


def platform_options(arch: str, python_version: str) -> list[str]:
    if arch == "host":
        return []
    return ["--platform", PLATFORMS[arch], "--python-version", python_version, "--implementation", "cp"]


def fetch_command(wheels: Path, arch: str, python_version: str) -> list[str]:
    """The pip download that fills a wheelhouse for offline builds (`--fetch-wheels`)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--requirement",
        str(ROOT / "requirements.txt"),
        "--no-deps",  # the lock lists every package: nothing else comes in
        "--dest",
        str(wheels / arch),
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        *platform_options(arch, python_version),
    ]


def pip_command(target: Path, arch: str, python_version: str, wheels: Path | None = None) -> list[str]:
    """The pip install of the target's wheels (no compiling, no sdists); from the
    wheelhouse `wheels` only, with no index, when one is given."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--requirement",
        str(ROOT / "requirements.txt"),
        "--no-deps",  # the lock lists every package: nothing else comes in
        "--target",
        str(target),
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]
    if wheels is not None:
        command += ["--no-index", "--find-links", str(wheels / arch)]
    if arch != "host":
        command += [
            "--platform",
            PLATFORMS[arch],
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--upgrade",
        ]
    return command


def strip(target: Path) -> None:
    """Remove what the runtime never reads: caches, tests, stubs, C sources, install
    records, and the long description (a README, a changelog) at the end of each
    package's METADATA; its headers (name, version, requirements, licence) stay."""
    for name in (*RUNTIME_PROVIDED, *NEVER_IMPORTED):
        for path in [target / name, *target.glob(f"{name}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts pointing at the build's Python
    for module in UNIMPORTABLE:
        (target / module).unlink(missing_ok=True)
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in JUNK_DIRS and path.parent != target / "handler":
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix in JUNK_SUFFIXES
            or path.name.startswith("_testcapi")  # multidict's test helper
            or (path.parent.name.endswith(".dist-info") and path.name in JUNK_DIST_INFO)
        ):
            path.unlink()
        elif path.name == "METADATA" and path.parent.name.endswith(".dist-info"):
            headers = path.read_bytes().split(b"\n\n", 1)[0]
            path.write_bytes(headers + b"\n")


def strip_debug_info(target: Path) -> int:
    """Drop debug sections from compiled modules (uvloop ships 16 MB of them, 2 MB without).

    `llvm-strip` handles every architecture; GNU `strip` only its own, so a cross build
    without llvm keeps the debug info (bigger, still correct). Returns how many were stripped.
    """
    tools = [tool for tool in ("llvm-strip", "strip") if shutil.which(tool)]
    stripped = 0
    for library in target.rglob("*.so"):
        for tool in tools:
            if subprocess.run([tool, "--strip-debug", str(library)], capture_output=True).returncode == 0:
                stripped += 1
                break
    return stripped


def copy_app(target: Path) -> None:
    """The app itself and the adapter's start script (executable)."""
    shutil.copytree(ROOT / "handler", target / "handler", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run = target / "run.sh"
    shutil.copyfile(ROOT / "infra" / "run.sh", run)
    run.chmod(0o755)


def precompile(target: Path) -> bool:
    """Write `.pyc` files next to the sources (only a Python of the target's version can),
    for every module but the `UNCOMPILED` ones."""
    return compileall.compile_dir(
        str(target),
        quiet=1,
        legacy=False,
        rx=re.compile(re.escape(str(target)) + "/(" + "|".join(UNCOMPILED) + ")"),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=0,
    )


def make_zip(target: Path, zip_path: Path) -> int:
    """Zip the directory reproducibly, keeping the executable bit; returns the size in bytes."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(target).as_posix(), FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return zip_path.stat().st_size


def build(
    arch: str = "arm64",
    out: Path | None = None,
    zip_path: Path | None = None,
    python_version: str = DEFAULT_PYTHON,
    wheels: Path | None = None,
) -> tuple[Path, Path, int]:
    """Build into `out` (emptied first) and zip it; returns (directory, zip, zipped bytes)."""
    if arch == "host":
        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    out = (out or ROOT / "build" / f"lambda-{arch}").resolve()
    if out in (ROOT, *ROOT.parents) or (out / ".git").exists():
        raise SystemExit(f"refusing to empty {out}: give a build directory of its own")
    zip_path = zip_path or out.with_name(out.name + ".zip")
    if out.exists():
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(pip_command(out, arch, python_version, wheels), check=True)
    strip(out)
    stripped = strip_debug_info(out)
    copy_app(out)
    compiled = python_version == f"{sys.version_info.major}.{sys.version_info.minor}" and precompile(out)
    size = make_zip(out, zip_path)
    unpacked = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"built {zip_path} for {arch}, Python {python_version}: "
        f"{size / 1e6:.2f} MB zipped, {unpacked / 1e6:.2f} MB unzipped, "
        f"debug info stripped from {stripped} libraries"
        + ("" if compiled else f" (no .pyc: build with Python {python_version} to precompile)"),
        file=sys.stderr,
    )
    if size > ZIP_LIMIT:
        raise SystemExit(f"{zip_path} is {size / 1e6:.1f} MB: over Lambda's 50 MB zip limit")
    return out, zip_path, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=[*PLATFORMS, "host"], default=os.environ.get("ARCH", "arm64"))
    parser.add_argument("--python-version", default=DEFAULT_PYTHON, help="target Python (default %(default)s)")
    parser.add_argument("--out", type=Path, help="package directory (default build/lambda-ARCH)")
    parser.add_argument("--zip", type=Path, help="zip file (default: the directory's name + .zip)")
    parser.add_argument("--wheels", type=Path, help="build offline from this wheelhouse (filled by --fetch-wheels)")
    parser.add_argument(
        "--fetch-wheels",
        type=Path,
        metavar="DIR",
        help="only download the wheels of every target (arm64, x86_64, host) into DIR/ARCH",
    )
    args = parser.parse_args(argv)
    if args.fetch_wheels:
        for arch in (*PLATFORMS, "host"):
            version = f"{sys.version_info.major}.{sys.version_info.minor}" if arch == "host" else args.python_version
            subprocess.run(fetch_command(args.fetch_wheels.resolve(), arch, version), check=True)
        return
    build(args.arch, args.out, args.zip, args.python_version, args.wheels and args.wheels.resolve())


if __name__ == "__main__":
    main()
