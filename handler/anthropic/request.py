"""An Anthropic Messages request -> a Gemini generateContent request.

The body is walked once and a new Gemini request is built; unknown top-level fields
(`metadata`, `service_tier`, ...) are ignored, `cache_control` anywhere is ignored.
Bad input raises `BadRequest` before anything goes upstream.

Models: Gemini names pass through; other names go through MODEL_ALIASES (exact, then
`*` wildcards), then `CLAUDE_DEFAULTS`, so that Claude Code works out of the box:
its small fast model (`claude-haiku-*`) runs on the newest flash model the key may use,
every other Claude model on the newest pro model (or the best the key offers), both
resolved from the live model list (translate.families). Anything else falls to
DEFAULT_MODEL.

Thinking: `enabled` with `budget_tokens` -> the nearest budget or Gemini 3 level the
model takes (translate.thinking.budget_config), with thoughts included; `adaptive` ->
Gemini's dynamic thinking; `disabled` -> the least thinking the model allows (2.5 Pro
cannot switch it off), thoughts not included. Without `thinking`, Gemini's default.

Web search (Anthropic's `web_search_*` server tool) -> Gemini's `googleSearch`. With
function declarations as well, Gemini 3 needs `toolConfig.includeServerSideToolInvocations`
(Google's "tool combination"); earlier models refuse built-in tools next to functions,
so there the functions are kept and search is left out (an agent's tools matter more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import tools as conventions
from ..translate.long_decode import long_decode_model
from ..translate.models import resolve_model
from ..translate.schema import Budget
from ..translate.thinking import budget_config, gemini_version, with_effort
from . import blocks

CLAUDE_DEFAULTS = (("claude-*haiku*", "flash"), ("claude-*", "pro"))  # families
TOOL_CHOICE = {"auto": "AUTO", "any": "ANY", "tool": "ANY", "none": "NONE"}
SAMPLING = (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"))
# Gemini 2.5 and 3 answer at most 65,536 tokens and refuse a larger maxOutputTokens;
# Claude clients may ask for more (Opus takes 128k): they get Gemini's most (Gemini 4's
# long decode takes more: translate.long_decode).
MAX_OUTPUT_TOKENS = 65536


@dataclass
class MessagesCall:
    """What the route needs to call Gemini and to shape the answer."""

    model: str  # the Gemini model
    name: str  # the model name the client sent, which the answer carries
    payload: dict[str, Any]
    stream: bool
    single_tool: bool  # disable_parallel_tool_use: at most one tool_use per answer


async def to_gemini(body: dict[str, Any], settings: Settings, counting: bool = False) -> MessagesCall:
    """Translate a Messages request body (already parsed JSON); `counting` for
    count_tokens, which has no max_tokens."""
    name = body.get("model")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("model: Field required (a Claude or Gemini model name).", "model")
    model, search = resolve_model(name, settings, CLAUDE_DEFAULTS)
    max_tokens = body.get("max_tokens")
    if not counting and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise BadRequest("max_tokens: Field required (a positive integer).", "max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: at least one message is required.", "messages")

    system = blocks.text_parts(body.get("system"), "system")
    more_system, contents = await blocks.contents(messages, settings, model)
    if not contents:
        raise BadRequest("messages: at least one user or assistant message with content is required.", "messages")
    payload: dict[str, Any] = {"contents": contents}
    if system or more_system:
        payload["systemInstruction"] = {"parts": system + more_system}

    declarations, search_tool = _tools(body.get("tools"))
    tool_config, single_tool = _tool_choice(body.get("tool_choice"))
    tools: list[dict[str, Any]] = [{"functionDeclarations": declarations}] if declarations else []
    config: dict[str, Any] = {}
    if declarations and tool_config:
        config["functionCallingConfig"] = tool_config
    if search or search_tool:
        if not declarations:
            tools.append({"googleSearch": {}})
        elif (gemini_version(model) or (0, 0)) >= (3, 0):
            tools.append({"googleSearch": {}})
            config["includeServerSideToolInvocations"] = True
    if tools:
        payload["tools"] = tools
    if config:
        payload["toolConfig"] = config
    payload["safetySettings"] = conventions.DEFAULT_SAFETY
    generation = _generation_config(body, model, max_tokens if not counting else None)
    if generation:
        payload["generationConfig"] = generation
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("stream must be true or false.", "stream")
    return MessagesCall(model=model, name=name, payload=payload, stream=bool(stream), single_tool=single_tool)


def _tools(tools: Any) -> tuple[list[dict[str, Any]], bool]:
    """(function declarations, whether the web search server tool was given)."""
    if tools is None:
        return [], False
    if not isinstance(tools, list):
        raise BadRequest("tools must be a list.", "tools")
    declarations = []
    search = False
    budget = Budget()  # one for all the tools: many schemas do not multiply it
    for j, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else "?"
        if isinstance(kind, str) and kind.startswith("web_search_"):
            search = True
            continue
        if kind not in (None, "custom"):
            raise BadRequest(
                f"tools.{j}: the tool type {kind!r} is not supported (custom tools with input_schema and web_search are).",
                f"tools.{j}.type",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools.{j}.name is required.", f"tools.{j}.name")
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest(f"tools.{j}.input_schema must be a JSON Schema object.", f"tools.{j}.input_schema")
        declarations.append(
            conventions.declaration(name, tool.get("description"), schema, f"tools.{j}.input_schema", budget)
        )
    return declarations, search


def _tool_choice(choice: Any) -> tuple[dict[str, Any] | None, bool]:
    """(Gemini's functionCallingConfig, disable_parallel_tool_use)."""
    if choice is None:
        return None, False
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in TOOL_CHOICE:
        raise BadRequest("tool_choice.type must be auto, any, tool or none.", "tool_choice")
    assert isinstance(choice, dict)
    config: dict[str, Any] = {"mode": TOOL_CHOICE[kind]}
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest("tool_choice.name is required when tool_choice.type is tool.", "tool_choice.name")
        config["allowedFunctionNames"] = [name]
    return config, choice.get("disable_parallel_tool_use") is True


def _generation_config(body: dict[str, Any], model: str, max_tokens: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens if long_decode_model(model) else min(max_tokens, MAX_OUTPUT_TOKENS)
    for name, key in SAMPLING:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise BadRequest(f"{name} must be a number.", name)
            config[key] = value
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise BadRequest("stop_sequences must be a list of strings.", "stop_sequences")
        if stop:
            config["stopSequences"] = stop
    thinking = with_effort(_thinking(body.get("thinking"), model), body.get("output_config"), model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking(thinking: Any, model: str) -> dict[str, Any] | None:
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "enabled":
        assert isinstance(thinking, dict)
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            raise BadRequest("thinking.budget_tokens must be a non-negative integer.", "thinking.budget_tokens")
        return budget_config(budget, model)
    if kind == "adaptive":
        return budget_config(None, model)
    if kind == "disabled":
        config = budget_config(0, model)
        if config:
            config.pop("includeThoughts", None)
        return config
    raise BadRequest("thinking.type must be enabled, adaptive or disabled.", "thinking.type")
