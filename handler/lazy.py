"""aiohttp, imported on first use rather than at start, and without its TLS contexts.

aiohttp is about half of the app's import time, and a cold start should answer the
Lambda Web Adapter's readiness check (`/healthz`, which needs no upstream) without
waiting for it. Modules take `aiohttp` from here (`from .lazy import aiohttp`) instead
of `import aiohttp`: the import statement would touch the module and load it at once.
The app's lifespan loads it just after start (`warm_up`), so the first proxied request
rarely waits for it either.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import ssl
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any


@contextlib.contextmanager
def without_ca_bundle() -> Iterator[None]:
    """TLS contexts made meanwhile do not load the system's CA bundle.

    aiohttp's connector builds two default contexts when imported, and each reads and
    parses the whole CA bundle: about 70 ms of a cold start on this kind of machine,
    for contexts the proxy never uses (`upstream.tls_context` is passed to every https
    request and loads the bundle once, on the first one). Made in here they hold no
    CA at all, so anything that did use them would fail verification, never skip it.
    """
    create_default_context = ssl.create_default_context
    set_default_verify_paths = ssl.SSLContext.set_default_verify_paths
    here = threading.get_ident()  # other threads (a boto3 client, say) keep the real ones

    def bare_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if threading.get_ident() != here:
            return create_default_context(*args, **kwargs)
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    def no_default_paths(context: ssl.SSLContext) -> None:
        if threading.get_ident() != here:
            set_default_verify_paths(context)

    ssl.create_default_context = bare_context
    ssl.SSLContext.set_default_verify_paths = no_default_paths  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        ssl.create_default_context = create_default_context
        ssl.SSLContext.set_default_verify_paths = set_default_verify_paths  # type: ignore[method-assign]


class _WithoutCABundle(importlib.abc.Loader):
    """Runs a module (and what it imports) inside `without_ca_bundle`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with without_ca_bundle():
            self.loader.exec_module(module)
        module.__loader__ = self.loader  # importlib.resources and friends ask the real one
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader


def lazy_import(name: str) -> ModuleType:
    """The module `name`, executed on its first attribute access (importlib's recipe)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(_WithoutCABundle(spec.loader))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


aiohttp = lazy_import("aiohttp")


def warm_up() -> None:
    """Load aiohttp now (any attribute access does), then set the start-up heap aside.

    `gc.freeze()` moves every object alive now (modules, classes, functions: nearly all
    of them for good) out of the collector's sight, so the collections that requests'
    garbage sets off no longer walk them. Measured with bench/: about a tenth of the
    CPU of a native call at 32 concurrent, and of one at a time.
    """
    getattr(aiohttp, "ClientSession")  # noqa: B009 - the attribute access is what loads it
    if not gc.get_freeze_count():  # once per process: one app starts in it (tests start many)
        gc.freeze()
