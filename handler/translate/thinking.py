"""Thinking: the effort or budget a client asks for -> Gemini's thinkingConfig, never a
value the model refuses; and the thought-signature rules of Gemini 3.

Efforts (`none`, `minimal`, `low`, `medium`, `high`, `xhigh`, `max`) map to the level
(or budget) the model takes, clamped to the nearest it accepts (`max` is the model's
top level). The tables below are facts about models Google shipped, newest rule first:
- Gemini 4: low, medium, high; its flash tier (Hydrogen) adds xhigh;
- Gemini 3.8 Flash and later 3.x Flash: low, medium, high (no `minimal`, no off);
- Gemini 3 Flash before 3.8: minimal, low, medium, high;
- Gemini 3 Pro: 3.0 Pro low and high, later Pro low, medium, high;
- Gemini 2.5 takes a thinking budget (2.5 Pro cannot switch thinking off: its smallest
  budget is 128).
Models without thinking (Gemma, LearnLM, Gemini before 2.5) get no thinkingConfig at
all: Gemini would refuse the field. When the level sent differs from the one asked
for, the client's parameter is named in `x-proxy-dropped` (translate.dropped). What no
table foresees is caught at run time (translate.refusals).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadRequest
from . import dropped

# Google's documented sentinel for a function call that Gemini 3 did not sign (history
# from another model, or a client that dropped the signature): without a signature
# Gemini 3 refuses the whole request with 400.
SKIP_SIGNATURE = "skip_thought_signature_validator"

# reasoning effort -> thinkingBudget for Gemini 2.5, as Google's OpenAI compatibility does.
EFFORT_BUDGET = {
    "none": 0,
    "minimal": 1024,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
PRO_25_MIN_BUDGET = 128
MAX_25_BUDGET = {"pro": 32768, "flash": 24576}
# reasoning effort -> the Gemini 3 thinkingLevel it asks for ("none" is the least thinking).
EFFORT_LEVEL = {
    "none": "minimal",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",  # then clamped to the model's top level
}
EFFORTS = "none, minimal, low, medium, high, xhigh, max"
LEVEL_ORDER = ("minimal", "low", "medium", "high", "xhigh")
GEMINI_4_FLASH = ("hydrogen",)  # Gemini 4's flash tier (catalog.families.CODENAMES)
_GEMINI_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def gemini_version(model: str) -> tuple[int, int] | None:
    match = _GEMINI_VERSION.match(model)
    return (int(match[1]), int(match[2] or 0)) if match else None


def needs_signatures(model: str) -> bool:
    """Gemini 3 and later refuse a function call in history that carries no signature."""
    return (gemini_version(model) or (0, 0)) >= (3, 0)


def nearest_level(wanted: str, allowed: tuple[str, ...]) -> str:
    """The allowed level closest to `wanted`; on a tie the higher one (as Google maps
    `medium` to `high` on Gemini 3 Pro)."""
    if wanted in allowed:
        return wanted
    rank = LEVEL_ORDER.index(wanted)
    return min(allowed, key=lambda level: (abs(LEVEL_ORDER.index(level) - rank), -LEVEL_ORDER.index(level)))


def levels(model: str, version: tuple[int, int]) -> tuple[str, ...]:
    """The thinking levels a Gemini 3 or later model takes (the tables above)."""
    if version >= (4, 0):
        flash_tier = "-flash" in model or any(f"-{name}" in model for name in GEMINI_4_FLASH)
        return ("low", "medium", "high", "xhigh") if flash_tier else ("low", "medium", "high")
    if "-pro" in model:
        return ("low", "high") if version == (3, 0) else ("low", "medium", "high")
    if version >= (3, 8):
        return ("low", "medium", "high")
    return ("minimal", "low", "medium", "high")


def _level(wanted: str, model: str, version: tuple[int, int], param: str, effort: str) -> str:
    allowed = levels(model, version)
    level = allowed[-1] if effort == "max" else nearest_level(wanted, allowed)
    if effort == "max" or (level != wanted and effort != "none"):  # "none" means the least there is
        dropped.note(param)
    return level


def thinking_config(effort: Any, model: str, param: str = "reasoning_effort") -> dict[str, Any] | None:
    """A reasoning effort (none, minimal, low, medium, high, xhigh, max) -> thinkingConfig,
    following Google's OpenAI compatibility layer; thoughts included unless `none`. An
    effort this proxy does not know yet (a future value) is dropped and named
    (`reasoning_effort:ultra`), never a 400; one that is not a string is malformed."""
    if effort is None:
        return None
    if not isinstance(effort, str):
        raise BadRequest(f"{param} must be one of {EFFORTS}, not {effort!r}.", param)
    if effort not in EFFORT_LEVEL:  # a value newer than this proxy: Gemini's default, named
        dropped.note(dropped.entry(param, effort))
        return None
    version = gemini_version(model)
    if version is None or version < (2, 5):
        return None
    config: dict[str, Any] = {}
    if version < (3, 0):
        budget = min(EFFORT_BUDGET[effort], MAX_25_BUDGET["pro" if "-pro" in model else "flash"])
        config["thinkingBudget"] = PRO_25_MIN_BUDGET if budget == 0 and "-pro" in model else budget
        if budget != EFFORT_BUDGET[effort] or config["thinkingBudget"] != budget:
            dropped.note(param)
    else:
        config["thinkingLevel"] = _level(EFFORT_LEVEL[effort], model, version, param, effort)
    if effort != "none":
        config["includeThoughts"] = True
    return config


def budget_config(budget: int | None, model: str, param: str = "thinking.budget_tokens") -> dict[str, Any] | None:
    """A token budget (Anthropic's `budget_tokens`, OpenRouter's `max_tokens`) ->
    thinkingConfig: clamped to what a 2.5 model takes, or the nearest Gemini 3 level.
    None means dynamic (Gemini decides), 0 means as little thinking as the model allows."""
    version = gemini_version(model)
    if version is None or version < (2, 5):
        return None
    if budget is None:
        if version < (3, 0):
            return {"thinkingBudget": -1, "includeThoughts": True}
        return {"includeThoughts": True}
    if version < (3, 0):
        ceiling = MAX_25_BUDGET["pro" if "-pro" in model else "flash"]
        floor = PRO_25_MIN_BUDGET if "-pro" in model else 0
        value = max(floor, min(budget, ceiling))
        return {"thinkingBudget": value, **({"includeThoughts": True} if value else {})}
    wanted = "minimal" if budget <= 0 else "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"
    wanted = "xhigh" if budget > 32768 else wanted
    level = nearest_level(wanted, levels(model, version))
    return {"thinkingLevel": level, **({"includeThoughts": True} if budget > 0 else {})}
