"""Client model names -> Gemini models: `models/` dropped, Gemini names as they are
(a model a client names is never swapped), everything else through MODEL_ALIASES
(exact names first, then `*` wildcards in the order given:
`claude-*haiku*=flash,claude-*=gemini-4-hydrogen`), else DEFAULT_MODEL. A target that
is a family (`flash`, `pro`, ...) is resolved from the live model list
(catalog.families).

Virtual suffixes, in any order, as the seed systems' users write them in client
configs: `:search` / `-search` (Google Search), `-image` (text and image output, as
`gemini-3.8-flash-exp-image`), `-non-thinking` (the least thinking the model allows).
A real image model's own `-image` (`gemini-3.1-flash-image`) stays, and an alias's own
name is never split.

A protocol may pass `fallback` patterns, tried after MODEL_ALIASES (its documented
defaults, such as Claude names for the Messages route).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any

from ..catalog import families
from ..config import Settings

NATIVE_PREFIXES = ("gemini-", "gemma-", "learnlm-", "imagen-", "veo-")
VIRTUAL_SUFFIXES = (
    (":search", "search"),
    ("-search", "search"),
    ("-image", "image"),
    ("-non-thinking", "non-thinking"),
)
REAL_IMAGE_MODEL = re.compile(r"gemini-\d+(\.\d+)?-(flash|pro)(-lite)?-image")


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


def resolve_virtual(name: Any, settings: Settings, fallback: Sequence[tuple[str, str]] = ()) -> tuple[str, set[str]]:
    """(the Gemini model for a client's model name, the virtual suffixes it carried)."""
    model = name.strip().removeprefix("models/") if isinstance(name, str) else ""
    found: set[str] = set()
    stripped = model not in settings.model_aliases
    while stripped:
        stripped = False
        for suffix, flag in VIRTUAL_SUFFIXES:
            if model.endswith(suffix) and not (flag == "image" and REAL_IMAGE_MODEL.fullmatch(model)):
                model, stripped = model[: -len(suffix)], True
                found.add(flag)
    if not model.startswith(NATIVE_PREFIXES):
        found_alias = alias(model, settings) or next((m for p, m in fallback if fnmatch.fnmatchcase(model, p)), None)
        model = found_alias or settings.default_model.removeprefix("models/")
        if families.is_family(model):
            model = families.model_for(model)
    return model, found


def resolve_model(name: Any, settings: Settings, fallback: Sequence[tuple[str, str]] = ()) -> tuple[str, bool]:
    """(the Gemini model for a client's model name, whether Google Search was asked for)."""
    model, found = resolve_virtual(name, settings, fallback)
    return model, "search" in found
