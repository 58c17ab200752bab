"""Optional generation fields a model refuses: found at run time, remembered per model.

No table foresees every model (sampling parameters deprecated since 3.6 Flash and
refused by the 3.8 TTS models, a thinking level one model lacks). When Gemini answers
400 INVALID_ARGUMENT naming an optional field that the proxy sent on a translated route
(`OPTIONAL`), the call is sent once more without it, or with the nearest thinking level
the message names; the container remembers it for that model for its life (a bounded
table), so later calls leave it out at once. The sampling parameters go together: one
refused, those sent with it are left out too (one retry, not one per field). Each such field is named in
`x-proxy-dropped` (snake_case, as the OpenAI and Anthropic clients spell them). The
native pass-through never comes here: a native caller gets Gemini's answer as is.
"""

from __future__ import annotations

import re
from typing import Any

from .thinking import LEVEL_ORDER, nearest_level

# generationConfig field -> its name in x-proxy-dropped
OPTIONAL = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "seed": "seed",
}
THINKING = {"thinkingLevel": "thinking_level", "thinkingBudget": "thinking_budget"}
# Deprecated together (since 3.6 Flash): one of them refused, all of them are left out,
# so that a request with several costs one retry, not one per field.
SAMPLING = ("temperature", "topP", "topK")
MAX_MODELS = 256
_LEVEL_WORD = re.compile(r"\b(" + "|".join(LEVEL_ORDER) + r")\b", re.IGNORECASE)
DROP = ""  # a remembered field with no replacement is left out


def _spellings(name: str) -> tuple[str, ...]:
    snake = re.sub(r"([A-Z])", r"_\1", name).lower()
    return (name.lower(), snake, snake.replace("_", " "))


def _sent(payload: dict[str, Any]) -> dict[str, Any]:
    config = payload.get("generationConfig")
    config = config if isinstance(config, dict) else {}
    thinking = config.get("thinkingConfig")
    thinking = thinking if isinstance(thinking, dict) else {}
    sent = {name: config[name] for name in OPTIONAL if name in config}
    sent.update({name: thinking[name] for name in THINKING if name in thinking})
    return sent


def refused_field(message: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    """(the field of `payload` that Gemini's 400 `message` names, its replacement: the
    nearest thinking level the message names, or DROP), or None."""
    lowered = message.lower()
    for name, value in _sent(payload).items():
        if not any(re.search(rf"(?<![a-z_]){re.escape(s)}(?![a-z_])", lowered) for s in _spellings(name)):
            continue
        if name == "thinkingLevel" and isinstance(value, str) and value.lower() in LEVEL_ORDER:
            named = {w.lower() for w in _LEVEL_WORD.findall(message)} - {value.lower()}
            if named:
                return name, nearest_level(value.lower(), tuple(lv for lv in LEVEL_ORDER if lv in named))
        return name, DROP
    return None


def _apply_one(payload: dict[str, Any], name: str, replacement: str) -> bool:
    config = payload.get("generationConfig")
    if not isinstance(config, dict):
        return False
    target = config.get("thinkingConfig") if name in THINKING else config
    if not isinstance(target, dict) or name not in target:
        return False
    if replacement:
        if target[name] == replacement:
            return False
        target[name] = replacement
    else:
        del target[name]
        if name in THINKING and not target:
            del config["thinkingConfig"]
    return True


def label(name: str) -> str:
    return OPTIONAL.get(name) or THINKING.get(name) or name


class Refusals:
    """What each model refused, for the container's life (bounded)."""

    def __init__(self) -> None:
        self.by_model: dict[str, dict[str, str]] = {}

    def remember(self, model: str, name: str, replacement: str) -> None:
        if model not in self.by_model and len(self.by_model) >= MAX_MODELS:
            self.by_model.pop(next(iter(self.by_model)))
        self.by_model.setdefault(model, {})[name] = replacement

    def apply(self, model: str, payload: dict[str, Any]) -> list[str]:
        """Leave out (or replace) what `model` refused before; the names changed."""
        changed = []
        for name, replacement in self.by_model.get(model, {}).items():
            if _apply_one(payload, name, replacement):
                changed.append(label(name))
        return changed

    def learn(self, model: str, message: str, payload: dict[str, Any]) -> list[str]:
        """From a 400's message: remember and apply the fix; the names changed."""
        found = refused_field(message, payload)
        if found is None:
            return []
        name, replacement = found
        group = [n for n in SAMPLING if n in _sent(payload)] if name in SAMPLING else [name]
        changed = []
        for one in group:
            self.remember(model, one, replacement)
            if _apply_one(payload, one, replacement):
                changed.append(label(one))
        return changed


def refusals_of(state: Any) -> Refusals:
    """The app's Refusals, made on first use."""
    refusals = getattr(state, "refusals", None)
    if refusals is None:
        refusals = state.refusals = Refusals()
    return refusals
