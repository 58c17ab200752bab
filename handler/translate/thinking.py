"""Thinking: the effort or budget a client asks for -> Gemini's thinkingConfig, never a
value the model refuses; and the thought-signature rules of Gemini 3.

Gemini 2.5 takes a thinking budget (2.5 Pro cannot switch thinking off: its smallest
budget is 128); Gemini 3 takes a thinking level, and its Pro models accept fewer levels
(3.0 Pro: low and high). Models without thinking (Gemma, LearnLM, Gemini before 2.5)
get no thinkingConfig at all: Gemini would refuse the field.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadRequest

# Google's documented sentinel for a function call that Gemini 3 did not sign (history
# from another model, or a client that dropped the signature): without a signature
# Gemini 3 refuses the whole request with 400.
SKIP_SIGNATURE = "skip_thought_signature_validator"

# reasoning effort -> thinkingBudget for Gemini 2.5, as Google's OpenAI compatibility does.
EFFORT_BUDGET = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
PRO_25_MIN_BUDGET = 128
MAX_25_BUDGET = {"pro": 32768, "flash": 24576}
# reasoning effort -> the Gemini 3 thinkingLevel it asks for ("none" is the least thinking).
EFFORT_LEVEL = {
    "none": "minimal",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}
LEVEL_ORDER = ("minimal", "low", "medium", "high")
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


def _levels(model: str, version: tuple[int, int]) -> tuple[str, ...]:
    if "-pro" in model:
        return ("low", "high") if version == (3, 0) else ("low", "medium", "high")
    return LEVEL_ORDER


def thinking_config(effort: Any, model: str, param: str = "reasoning_effort") -> dict[str, Any] | None:
    """A reasoning effort (none, minimal, low, medium, high, xhigh) -> thinkingConfig,
    following Google's OpenAI compatibility layer; thoughts included unless `none`."""
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in EFFORT_LEVEL:
        raise BadRequest(f"{param} must be one of none, minimal, low, medium, high, not {effort!r}.", param)
    version = gemini_version(model)
    if version is None or version < (2, 5):
        return None
    config: dict[str, Any] = {}
    if version < (3, 0):
        budget = EFFORT_BUDGET[effort]
        config["thinkingBudget"] = PRO_25_MIN_BUDGET if budget == 0 and "-pro" in model else budget
    else:
        config["thinkingLevel"] = nearest_level(EFFORT_LEVEL[effort], _levels(model, version))
    if effort != "none":
        config["includeThoughts"] = True
    return config


def budget_config(budget: int | None, model: str) -> dict[str, Any] | None:
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
    level = nearest_level(wanted, _levels(model, version))
    return {"thinkingLevel": level, **({"includeThoughts": True} if budget > 0 else {})}
