"""An Anthropic Messages request -> a Gemini generateContent request.

The body is walked once and a new Gemini request is built; `cache_control` anywhere is
ignored. Bad input raises `BadRequest` before anything goes upstream; what is merely new
(a tool type, a block type, a field, a beta) is dropped and named in `x-proxy-dropped`
(compat.py). `output_config` (answer format, effort): output_config.py.

Models: Gemini names pass through; other names go through MODEL_ALIASES (exact, then
`*` wildcards), then `CLAUDE_DEFAULTS`, so that Claude Code works out of the box:
its small fast model (`claude-haiku-*`) runs on the newest flash model the key may use,
every other Claude model on the newest pro model (or the best the key offers), both
resolved from the live model list (catalog.families). Anything else falls to
DEFAULT_MODEL.

Thinking: `enabled` with `budget_tokens` -> the nearest budget or Gemini 3 level the
model takes (translate.thinking.budget_config), with thoughts included; `adaptive` ->
Gemini's dynamic thinking; `disabled` -> the least thinking the model allows (2.5 Pro
cannot switch it off), thoughts not included. Without `thinking`, Gemini's default.

Server tools (web search, web fetch, code execution) -> Gemini's built-in tools
(compat.py). With function declarations as well, Gemini 3 needs
`toolConfig.includeServerSideToolInvocations` (Google's "tool combination"); earlier
models refuse built-in tools next to functions, so there the functions are kept and the
built-in tools are dropped (an agent's tools matter more), and named.

A `tool_choice` that forces a tool this proxy dropped (or `any` when every tool was
dropped) is a 400 naming it (the client asked for a call that cannot come); one that forces a server tool mapped to a Gemini
built-in (which Gemini cannot be forced to use) is dropped and named; a tool_choice
type that is new is dropped and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import params
from ..translate import tools as conventions
from ..translate.dropped import Dropped
from ..translate.long_decode import long_decode_model
from ..translate.models import resolve_model
from ..translate.schema import Budget
from ..translate.thinking import budget_config, gemini_version
from . import blocks, compat, output_config

CLAUDE_DEFAULTS = (("claude-*haiku*", "flash"), ("claude-*", "pro"))  # families
TOOL_CHOICE = {"auto": "AUTO", "any": "ANY", "tool": "ANY", "none": "NONE"}
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
    dropped: Dropped = field(default_factory=Dropped)  # named in x-proxy-dropped


async def to_gemini(
    body: dict[str, Any], settings: Settings, counting: bool = False, betas: str | None = None
) -> MessagesCall:
    """Translate a Messages request body (already parsed JSON); `counting` for
    count_tokens, which has no max_tokens; `betas` is the anthropic-beta header."""
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

    dropped = Dropped()
    compat.betas(betas, dropped)
    compat.fields(body, dropped)
    system = blocks.text_parts(body.get("system"), "system", dropped)
    more_system, contents = await blocks.contents(messages, settings, model, dropped)
    if not contents:
        raise BadRequest("messages: at least one user or assistant message with content is required.", "messages")
    payload: dict[str, Any] = {"contents": contents}
    if system or more_system:
        payload["systemInstruction"] = {"parts": system + more_system}

    given = _tools(body.get("tools"), dropped)
    declarations = given.declarations
    tool_config, single_tool = _tool_choice(body.get("tool_choice"), given, dropped)
    tools: list[dict[str, Any]] = [{"functionDeclarations": declarations}] if declarations else []
    config: dict[str, Any] = {}
    if declarations and tool_config:
        config["functionCallingConfig"] = tool_config
    builtins = [gemini_tool for _, _, gemini_tool in given.builtins] + (["googleSearch"] if search else [])
    if builtins and declarations and (gemini_version(model) or (0, 0)) < (3, 0):
        for param, kind, _ in given.builtins:
            dropped.add(param, kind)
        builtins = []
    for gemini_tool in dict.fromkeys(builtins):
        tools.append({gemini_tool: {}})
    if builtins and declarations:
        config["includeServerSideToolInvocations"] = True
    if tools:
        payload["tools"] = tools
    if config:
        payload["toolConfig"] = config
    payload["safetySettings"] = conventions.DEFAULT_SAFETY
    generation = _generation_config(body, model, max_tokens if not counting else None, dropped)
    if generation:
        payload["generationConfig"] = generation
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("stream must be true or false.", "stream")
    return MessagesCall(
        model=model, name=name, payload=payload, stream=bool(stream), single_tool=single_tool, dropped=dropped
    )


@dataclass
class ToolSet:
    """The request's tools as Gemini gets them."""

    declarations: list[dict[str, Any]] = field(default_factory=list)
    builtins: list[tuple[str, str, str]] = field(default_factory=list)  # (param, server tool type, Gemini tool)
    builtin_names: set[str] = field(default_factory=set)  # the names of those server tools
    left_out: dict[str, str] = field(default_factory=dict)  # a dropped tool's name -> its type


def _tools(tools: Any, dropped: Dropped) -> ToolSet:
    out = ToolSet()
    if tools is None:
        return out
    if not isinstance(tools, list):
        raise BadRequest("tools must be a list.", "tools")
    budget = Budget()  # one for all the tools: many schemas do not multiply it
    for j, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise BadRequest(f"tools.{j} must be an object.", f"tools.{j}")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            if not isinstance(kind, str):
                raise BadRequest(f"tools.{j}.type must be a string.", f"tools.{j}.type")
            name = tool.get("name")
            if gemini_tool := compat.server_tool(kind):
                out.builtins.append((f"tools.{j}", kind, gemini_tool))
                out.builtin_names.add(name if isinstance(name, str) else kind)
            else:
                dropped.add(f"tools.{j}", kind)
                out.left_out[name if isinstance(name, str) else kind] = kind
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools.{j}.name is required.", f"tools.{j}.name")
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest(f"tools.{j}.input_schema must be a JSON Schema object.", f"tools.{j}.input_schema")
        out.declarations.append(
            conventions.declaration(name, tool.get("description"), schema, f"tools.{j}.input_schema", budget)
        )
    return out


def _tool_choice(choice: Any, given: ToolSet, dropped: Dropped) -> tuple[dict[str, Any] | None, bool]:
    """(Gemini's functionCallingConfig, disable_parallel_tool_use)."""
    if choice is None:
        return None, False
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        raise BadRequest("tool_choice must be an object with a type (auto, any, tool or none).", "tool_choice")
    kind = choice["type"]
    single = choice.get("disable_parallel_tool_use") is True
    if kind not in TOOL_CHOICE:
        dropped.add("tool_choice", kind)
        return None, single
    config: dict[str, Any] = {"mode": TOOL_CHOICE[kind]}
    if kind == "any" and given.left_out and not given.declarations and not given.builtins:
        raise BadRequest(
            f"tool_choice any requires a tool call, but every tool was dropped (types {sorted(set(given.left_out.values()))}"
            " cannot be given to Gemini): add a custom tool or use tool_choice auto.",
            "tool_choice",
        )
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest("tool_choice.name is required when tool_choice.type is tool.", "tool_choice.name")
        if name in given.left_out:
            raise BadRequest(
                f"tool_choice requires the tool {name!r}, whose type {given.left_out[name]!r} this proxy cannot give "
                "Gemini (it was dropped): choose another tool or tool_choice auto.",
                "tool_choice.name",
            )
        if name in given.builtin_names:
            dropped.add("tool_choice", name)  # Gemini cannot be made to use a built-in tool
            return None, single
        config["allowedFunctionNames"] = [name]
    return config, single


def _generation_config(body: dict[str, Any], model: str, max_tokens: int | None, dropped: Dropped) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens if long_decode_model(model) else min(max_tokens, MAX_OUTPUT_TOKENS)
    sampling = {
        "temperature": params.number(body.get("temperature"), "temperature", 0, 1),  # Anthropic's range
        "topP": params.number(body.get("top_p"), "top_p", 0, 1),
        "topK": params.integer(body.get("top_k"), "top_k", 1),
        "stopSequences": params.stop_sequences(body.get("stop_sequences"), "stop_sequences"),
    }
    config.update((key, value) for key, value in sampling.items() if value is not None)
    given = body.get("thinking")
    thinking = _thinking(given, model, dropped)
    kind = given.get("type") if isinstance(given, dict) else None
    kind = kind if kind in ("enabled", "adaptive", "disabled") else None  # a new kind was dropped
    thinking = output_config.effort_thinking(body, kind, model, dropped) or thinking
    if thinking:
        config["thinkingConfig"] = thinking
    output_config.apply_format(body, config, dropped)
    return config


def _thinking(thinking: Any, model: str, dropped: Dropped) -> dict[str, Any] | None:
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
    if not isinstance(kind, str):
        raise BadRequest("thinking.type must be enabled, adaptive or disabled.", "thinking.type")
    dropped.add("thinking", kind)  # a new kind of thinking: Gemini's default instead
    return None
