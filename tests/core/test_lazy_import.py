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
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["_LazyModule", "module True"]
