"""Start uvicorn as its command line would, sooner: infra/run.sh's start command.

    python -m handler.launch handler.app:app --host 0.0.0.0 --port 8080 --loop uvloop \
        --http handler.server:GuardedHttpTools --timeout-keep-alive 5 --limit-concurrency 1000 --no-access-log

A cold start is mostly imports, and `python -m uvicorn` spends part of them on what a
one-process server never runs: uvicorn's package `__init__` imports its command line
(click) and, through it, the reload and multi-process supervisors (multiprocessing,
pickle, bz2, lzma, random, tempfile, ...). Here uvicorn's package is set up without its
`__init__` and only the modules the server uses are imported (docs/speed.md, "Cold
start against the Node proxy", says what this bought). It takes the few options run.sh
gives, spelled as uvicorn spells them, and refuses any other.
"""

from __future__ import annotations

import importlib.util
import sys


def bare_uvicorn() -> None:
    """uvicorn's package without its `__init__`: its modules import each other by name,
    and two read `Config` from the package, which is set here."""
    if "uvicorn" in sys.modules:
        return
    spec = importlib.util.find_spec("uvicorn")
    if spec is None:
        raise SystemExit("uvicorn is not installed")
    package = importlib.util.module_from_spec(spec)
    sys.modules["uvicorn"] = package
    from uvicorn.config import Config
    from uvicorn.server import Server

    package.Config, package.Server = Config, Server  # type: ignore[attr-defined]


# uvicorn's option -> (Config argument, its type); a flag sets its argument to False.
OPTIONS: dict[str, tuple[str, type]] = {
    "--host": ("host", str),
    "--port": ("port", int),
    "--loop": ("loop", str),
    "--http": ("http", str),
    "--timeout-keep-alive": ("timeout_keep_alive", int),
    "--limit-concurrency": ("limit_concurrency", int),
}
FLAGS = {"--no-access-log": "access_log"}


def parse(argv: list[str]) -> tuple[str, dict[str, object]]:
    """(the app's import string, uvicorn.Config's keyword arguments)."""
    if not argv or argv[0].startswith("-"):
        raise SystemExit("usage: python -m handler.launch MODULE:APP [uvicorn options run.sh uses]")
    app, rest = argv[0], argv[1:]
    options: dict[str, object] = {}
    while rest:
        name = rest.pop(0)
        if name in FLAGS:
            options[FLAGS[name]] = False
        elif name in OPTIONS and rest:
            key, kind = OPTIONS[name]
            try:
                options[key] = kind(rest.pop(0))
            except ValueError:
                raise SystemExit(f"{name}: not a {kind.__name__}") from None
        else:
            raise SystemExit(f"handler.launch takes {', '.join([*OPTIONS, *FLAGS])}; not {name}")
    return app, options


def main(argv: list[str]) -> None:
    app, options = parse(argv)
    bare_uvicorn()
    from uvicorn.config import Config
    from uvicorn.server import Server

    Server(Config(app, **options)).run()  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1:])
