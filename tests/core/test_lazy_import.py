"""aiohttp stays out of the app's import (cold start) until first used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_leaves_aiohttp_unloaded_until_used():
    code = (
        "import sys, handler.app\n"
        "print(type(sys.modules['aiohttp']).__name__)\n"
        "from handler import lazy\n"
        "lazy.warm_up()\n"
        "print(type(sys.modules['aiohttp']).__name__, 'aiohttp.connector' in sys.modules)\n"
        "import gc\n"
        "print(gc.get_freeze_count() > 10000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    # Loaded on first use; then the start-up heap, aiohttp included, is frozen.
    assert out.split("\n")[:3] == ["_LazyModule", "module True", "True"]


def test_aiohttp_loads_without_reading_the_ca_bundle_and_https_still_verifies():
    code = (
        "import ssl, sys\n"
        "create = ssl.create_default_context\n"
        "from handler import lazy, upstream\n"
        "lazy.warm_up()\n"
        "import aiohttp.connector as c\n"
        "for context in (c._SSL_CONTEXT_VERIFIED, c._SSL_CONTEXT_UNVERIFIED):\n"
        "    print(context.cert_store_stats()['x509_ca'])\n"
        "print(c._SSL_CONTEXT_VERIFIED.verify_mode == ssl.CERT_REQUIRED, c._SSL_CONTEXT_VERIFIED.check_hostname)\n"
        "print(ssl.create_default_context is create, sys.modules['aiohttp'].__spec__.loader.__class__.__name__)\n"
        "context = upstream.tls_context()\n"
        "print(context is upstream.tls_context(), context.verify_mode == ssl.CERT_REQUIRED, context.check_hostname)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    # aiohttp's own contexts hold no CA: unused, and failing closed if ever used.
    assert out.split("\n")[:5] == ["0", "0", "True True", "True SourceFileLoader", "True True True"]


def test_other_threads_keep_real_default_contexts_meanwhile(tmp_path, monkeypatch):
    import ssl
    import threading

    import trustme

    from handler.lazy import without_ca_bundle

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # the default paths hold exactly one CA
    made: dict[str, ssl.SSLContext] = {}
    with without_ca_bundle():
        made["here"] = ssl.create_default_context()
        other = threading.Thread(target=lambda: made.update(there=ssl.create_default_context()))
        other.start()
        other.join()
    assert made["here"].cert_store_stats()["x509_ca"] == 0
    assert made["there"].cert_store_stats()["x509_ca"] == 1
    assert ssl.create_default_context().cert_store_stats()["x509_ca"] == 1  # restored
