"""aiohttp, imported on first use rather than at start.

aiohttp is about half of the app's import time (its connector builds TLS contexts when
imported), and a cold start should answer the Lambda Web Adapter's readiness check
(`/healthz`, which needs no upstream) without waiting for it. Modules take `aiohttp`
from here (`from .lazy import aiohttp`) instead of `import aiohttp`: the import
statement would touch the module and load it at once. The app's lifespan loads it just
after start (`warm_up`), so the first proxied request rarely waits for it either.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module `name`, executed on its first attribute access (importlib's recipe)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


aiohttp = lazy_import("aiohttp")


def warm_up() -> None:
    """Load aiohttp now (any attribute access does)."""
    getattr(aiohttp, "ClientSession")  # noqa: B009 - the attribute access is what loads it
