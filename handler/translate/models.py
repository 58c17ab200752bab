"""Client model names -> Gemini models: `models/` dropped, Gemini names as they are,
everything else through MODEL_ALIASES (exact names first, then `*` wildcards in the
order given: `claude-*haiku*=gemini-2.5-flash,claude-*=gemini-2.5-pro`), else
the caller's `fallback` patterns (a protocol's documented defaults, such as Claude names
for the Messages route), else DEFAULT_MODEL. A `:search` / `-search` suffix asks for
Google Search.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Sequence

from ..config import Settings

NATIVE_PREFIXES = ("gemini-", "gemma-", "learnlm-", "imagen-", "veo-")
SEARCH_SUFFIXES = (":search", "-search")


def alias(name: str, settings: Settings) -> str | None:
    """The MODEL_ALIASES target for `name`, exact match first, then wildcards."""
    aliases = settings.model_aliases
    target = aliases.get(name)
    if target is None:
        for pattern, value in aliases.items():
            if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
                target = value
                break
    return target.removeprefix("models/") if target else None


def resolve_model(
    name: Any, settings: Settings, fallback: Sequence[tuple[str, str]] = ()
) -> tuple[str, bool]:
    """(the Gemini model for a client's model name, whether Google Search was asked for)."""
    model = name.strip().removeprefix("models/") if isinstance(name, str) else ""
    search = model.endswith(SEARCH_SUFFIXES)
    if search:
        model = model[:-7]
    if not model.startswith(NATIVE_PREFIXES):
        found = alias(model, settings) or next((m for p, m in fallback if fnmatch.fnmatchcase(model, p)), None)
        model = found or settings.default_model.removeprefix("models/")
    return model, search
