"""What resolving models by family costs per request (a microbenchmark, not a test).

    python bench/families.py [--number 200000]

Prints, in microseconds per call, on this machine:
- a client model name that is a Gemini name (no family involved), for scale;
- a name that falls to DEFAULT_MODEL set to a model (no family), then to
  DEFAULT_MODEL=flash once the model list is cached (what every
  request of a warm container pays), and a Claude name through its family;
- the same inside `families.translate` (the per-request context the routes set up);
- once per MODEL_LIST_SECONDS: ranking a parsed list of 100 models into families
  (the network read of the list itself is one GET, not measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handler.anthropic.request import CLAUDE_DEFAULTS
from handler.catalog import families
from handler.config import Settings
from handler.keys.credentials import Credentials
from handler.translate.models import resolve_model

LISTED = [(f"models/gemini-3.{i}-flash", ["generateContent"]) for i in range(10)] + [
    (f"models/gemma-3-{i}b-it", ["generateContent"]) for i in range(86)
]
LISTED += [
    ("models/gemini-4-hydrogen", ["generateContent"]),
    ("models/gemini-4-carbon", ["generateContent"]),
    ("models/gemini-3.8-flash-tts", ["generateContent"]),
    ("models/gemini-embedding-001", ["embedContent"]),
]


class _App:
    class state:
        settings = Settings()
        families = None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=200_000)
    n = parser.parse_args().number
    settings = Settings()
    store = families.Families(ttl=3600.0)
    store.store(LISTED)
    resolution = families.Resolution(store, ("K1",))
    token = families._current.set(resolution)

    def per_call(fn, number: int = n) -> float:
        return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6

    named = per_call(lambda: resolve_model("gemini-3.8-flash", settings))
    explicit = Settings(default_model="gemini-3.8-flash")
    pinned = per_call(lambda: resolve_model("gpt-4o", explicit))
    default = per_call(lambda: resolve_model("gpt-4o", settings))
    claude = per_call(lambda: resolve_model("claude-sonnet-4-5", settings, CLAUDE_DEFAULTS))
    families._current.reset(token)

    scope = {"app": _App}
    _App.state.families = store
    creds = Credentials(("K1",))

    async def wrapped() -> None:
        for _ in range(n):
            resolution = families.resolution_for(scope, creds)
            await families.translate(scope, resolution, creds, _resolve_default)

    loop = asyncio.new_event_loop()
    started = timeit.default_timer()
    loop.run_until_complete(wrapped())
    in_translate = (timeit.default_timer() - started) / n * 1e6
    ranking = per_call(lambda: families.Families(ttl=1.0).store(LISTED), 2_000)
    print(f"named Gemini model (no family)        {named:7.2f} us/request")
    print(f"DEFAULT_MODEL=gemini-3.8-flash        {pinned:7.2f} us/request (a model named: no list)")
    print(f"DEFAULT_MODEL=flash, list cached      {default:7.2f} us/request")
    print(f"claude-sonnet -> pro, list cached     {claude:7.2f} us/request")
    print(f"  with the per-request context        {in_translate:7.2f} us/request (incl. an await)")
    print(f"ranking a 100-model list (cold, once) {ranking:7.2f} us per MODEL_LIST_SECONDS")


SETTINGS = Settings()


async def _resolve_default() -> tuple[str, bool]:
    return resolve_model("gpt-4o", SETTINGS)


if __name__ == "__main__":
    main()
