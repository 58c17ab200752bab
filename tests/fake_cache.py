"""The fake Gemini's implicit prompt cache: per project (each key is its own project, as
in fake_resources) and per model, as Google's implicit caching is.

A generate call hits when its conversation begins with a prefix an earlier call of the
same project and model sent (the system instruction and tools, then at least the first
turn): its tokens would come from the cache (`cachedContentTokenCount`). Hits and misses
are counted per key, so a test can see whether one conversation stayed on one project.
Hooked into FakeGemini.model_call with one line.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImplicitCache:
    seen: dict[tuple[str, str], set[bytes]] = field(default_factory=dict)  # (key, model) -> prefix hashes
    hits: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.seen.clear()
        self.hits.clear()
        self.misses.clear()

    def note(self, key: str | None, model: str, payload: Any) -> bool:
        """Record one generate call; True when it hit the project's cache."""
        if not key or not isinstance(payload, dict) or not isinstance(payload.get("contents"), list):
            return False
        prefixes = list(_prefixes(payload))
        known = self.seen.setdefault((key, model), set())
        hit = any(p in known for p in prefixes)
        known.update(prefixes)
        (self.hits if hit else self.misses)[key] += 1
        return hit


def _prefixes(payload: dict[str, Any]):
    """Running hashes of the request: the fixed head, then each turn in order."""
    running = hashlib.sha256(json.dumps([payload.get("systemInstruction"), payload.get("tools")]).encode())
    for content in payload["contents"]:
        running.update(json.dumps(content, sort_keys=True).encode())
        yield running.copy().digest()
