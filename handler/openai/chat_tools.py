"""Function tools in an OpenAI chat request -> Gemini: declarations, `tool_choice`,
the calls in the history and the results sent back.

- A tool schema with an enum of numbers or booleans goes out as `parametersJsonSchema`
  (Gemini's JSON Schema field, which keeps the enum typed), any other as `parameters`
  (translate.tools.declaration), so the arguments come back with the client's types.
- A function tool named `web_search`, `google_search` or `googleSearch` is Gemini's
  built-in Google Search, not a function: Claude Code's web search reaches us that way
  through claude-code-router (a `web_search` function with `tool_choice` forcing it),
  Cherry Studio names it `googleSearch`. A `tool_choice` that forces one of those names
  asks for a search, so no function calling mode is sent for it.
- A tool result's images (a `tool` message whose content lists `image_url` or `file`
  parts, as clients that return screenshots send) go with the function response: in
  `functionResponse.parts` on Gemini 3 (multimodal function responses), and as parts
  after the turn's function responses on older models, which take only JSON there.
- Forward compatibility (docs/forward-compatibility.md): a web search tool type
  (`web_search`, `web_search_preview`, dated versions) is Google Search; any other typed
  tool (OpenAI's `custom` freeform tools, a type released tomorrow) is dropped and named
  (`tools[3]:custom`). A `tool_choice` that requires a dropped tool is a 400 saying so;
  one of a new type or value is dropped and named; `allowed_tools` restricts the calls
  when it requires one, and is named (all tools offered) when it leaves the choice free,
  since Gemini restricts function names only in its forced mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..translate import schema
from ..translate import tools as conventions
from ..translate.dropped import Dropped
from ..translate.thinking import gemini_version, needs_signatures

SEARCH_TOOL_NAMES = frozenset({"web_search", "google_search", "googleSearch"})
MEDIA_KEYS = ("inlineData", "fileData")

# A tool result being grouped: (position of its call, functionResponse part, media parts).
Result = tuple[int, dict[str, Any], list[dict[str, Any]]]


@dataclass
class Offered:
    """The request's tools as Gemini gets them, and what was left out of them."""

    tools: list[dict[str, Any]] = field(default_factory=list)  # functionDeclarations (search apart)
    search: bool = False  # a web search tool asked for Google Search
    functions: set[str] = field(default_factory=set)
    dropped: dict[str, str] = field(default_factory=dict)  # a dropped tool's name (or its type) -> its type


def is_search_type(kind: str) -> bool:
    """OpenAI's web search tool types: `web_search`, `web_search_preview` and dated versions."""
    return kind.startswith("web_search")


def declarations(tools: Any, dropped: Dropped) -> Offered:
    """The function declarations; search tools noted; other typed tools dropped and named."""
    offered = Offered()
    if not tools:
        return offered
    if not isinstance(tools, list):
        raise BadRequest("tools must be a list.", "tools")
    declared = []
    budget = schema.Budget()  # one for all the tools: many schemas do not multiply it
    for j, tool in enumerate(tools):
        kind = tool.get("type", "function") if isinstance(tool, dict) else None
        if isinstance(tool, dict) and isinstance(kind, str) and kind and kind != "function":
            if is_search_type(kind):
                offered.search = True
            else:
                dropped.add(f"tools[{j}]", kind)
                named = tool.get(kind)
                name = named.get("name") if isinstance(named, dict) else tool.get("name")
                offered.dropped[name if isinstance(name, str) and name else kind] = kind
            continue
        function = tool.get("function") if isinstance(tool, dict) and kind == "function" else None
        if not isinstance(function, dict):
            raise BadRequest(
                f'tools[{j}] must be a typed tool such as {{"type": "function", "function": {{...}}}}.', f"tools[{j}]"
            )
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"tools[{j}].function.name is required.", f"tools[{j}].function.name")
        if name in SEARCH_TOOL_NAMES:
            offered.search = True
            continue
        parameters = function.get("parameters")
        where = f"tools[{j}].function.parameters"
        declared.append(conventions.declaration(name, function.get("description"), parameters, where, budget))
        offered.functions.add(name)
    offered.tools = [{"functionDeclarations": declared}] if declared else []
    return offered


def _forced(names: list[str], offered: Offered, asked: str) -> tuple[dict[str, Any] | None, bool]:
    """A choice that requires a call to one of `names` (any function when empty)."""
    if any(name in SEARCH_TOOL_NAMES for name in names) or (not names and not offered.functions and offered.search):
        return None, True
    lost = [name for name in names if name in offered.dropped and name not in offered.functions]
    if lost or (not names and not offered.functions and offered.dropped):
        gone = lost or sorted(set(offered.dropped.values()))
        raise BadRequest(
            f"tool_choice {asked} requires a tool call, but this proxy dropped the tool it needs "
            f"({', '.join(gone)}): Gemini has no equivalent and could not call it.",
            "tool_choice",
        )
    config: dict[str, Any] = {"mode": "ANY"}
    if names:
        config["allowedFunctionNames"] = names
    return {"functionCallingConfig": config}, False


def tool_config(choice: Any, offered: Offered, dropped: Dropped) -> tuple[dict[str, Any] | None, bool]:
    """(toolConfig for `tool_choice`, whether it forces a search tool instead)."""
    if choice is None:
        return None, False
    if isinstance(choice, str):
        mode = conventions.TOOL_CHOICE.get(choice)
        if mode is None:  # a value newer than this proxy: Gemini's default (auto)
            dropped.add("tool_choice", choice)
            return None, False
        if mode == "ANY":
            return _forced([], offered, repr(choice))
        return {"functionCallingConfig": {"mode": mode}}, False
    kind = choice.get("type", "function") if isinstance(choice, dict) else None
    if isinstance(choice, dict) and kind == "allowed_tools":
        return _allowed_tools(choice.get("allowed_tools"), offered, dropped)
    if isinstance(choice, dict) and isinstance(kind, str) and kind and kind != "function":
        if is_search_type(kind):
            return None, True
        if kind in offered.dropped.values():
            named = choice.get(kind)
            name = named.get("name") if isinstance(named, dict) else None
            raise BadRequest(
                f"tool_choice requires the {kind} tool {name or kind!r}, which this proxy "
                "dropped from tools (Gemini has no equivalent): the call asked for cannot come.",
                "tool_choice",
            )
        dropped.add("tool_choice", kind)
        return None, False
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest(
            'tool_choice must name a function: {"type": "function", "function": {"name": ...}}.', "tool_choice"
        )
    return _forced([name], offered, repr(name))


def _allowed_tools(allowed: Any, offered: Offered, dropped: Dropped) -> tuple[dict[str, Any] | None, bool]:
    """`{"type": "allowed_tools", "allowed_tools": {"mode": "auto"|"required", "tools": [...]}}`."""
    tools = allowed.get("tools") if isinstance(allowed, dict) else None
    mode = allowed.get("mode") if isinstance(allowed, dict) else None
    if not isinstance(tools, list) or not isinstance(mode, str):
        raise BadRequest("tool_choice.allowed_tools needs a mode and a list of tools.", "tool_choice.allowed_tools")
    if mode != "required":  # Gemini restricts names only when a call is forced: all are offered
        dropped.add("tool_choice.allowed_tools", mode)
        return None, False
    names = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name in offered.functions | SEARCH_TOOL_NAMES:
            names.append(name)
    if not names and offered.search:
        return None, True
    if not names:
        raise BadRequest(
            "tool_choice.allowed_tools requires a call to one of its tools, and none of them is a function "
            "tool this proxy sends to Gemini.",
            "tool_choice.allowed_tools",
        )
    return _forced(names, offered, "allowed_tools")


# The history: calls made and results sent back ---------------------------------------


def assistant_calls(
    message: dict[str, Any], i: int, parts: list[dict[str, Any]], model: str
) -> dict[str, tuple[int, str]]:
    """Append the assistant message's function calls to its `parts`; its calls by id."""
    calls: dict[str, tuple[int, str]] = {}
    tool_calls = message.get("tool_calls")
    if not tool_calls:
        return calls
    if not isinstance(tool_calls, list):
        raise BadRequest(f"messages[{i}].tool_calls must be a list.", f"messages[{i}].tool_calls")
    for j, call in enumerate(tool_calls):
        where = f"messages[{i}].tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(function, dict) or not isinstance(name, str) or not name:
            raise BadRequest(f"{where}.function.name is required.", f"{where}.function.name")
        part: dict[str, Any] = {
            "functionCall": {
                "name": name,
                "args": conventions.arguments(function.get("arguments"), f"{where}.function.arguments"),
            }
        }
        extra = call.get("extra_content")
        google = extra.get("google") if isinstance(extra, dict) else None
        signature = google.get("thought_signature") if isinstance(google, dict) else None
        if isinstance(signature, str) and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        call_id = call.get("id")
        if isinstance(call_id, str):
            calls[call_id] = (j, name)
    if needs_signatures(model):
        conventions.sign_first_call(parts)
    return calls


def tool_result(
    name: str, content: Any, parts: list[dict[str, Any]] | None, model: str, param: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(functionResponse part, media parts to send after the turn's responses) for a
    tool message. `parts` is its content list already turned into Gemini parts (None
    for other content). The response is always an object: a JSON object as it is, any
    other JSON value as `{"result": value}`, other text as `{"result": text}`."""
    media: list[dict[str, Any]] = []
    if parts is not None:
        text = "".join(part["text"] for part in parts if "text" in part)
        media = [part for part in parts if "text" not in part]
        response = conventions.result_object(text, param)
    else:
        response = conventions.result_object(content, param)
    function_response: dict[str, Any] = {"name": name, "response": response}
    if media and (gemini_version(model) or (0, 0)) >= (3, 0):  # multimodal function responses
        function_response["parts"] = [{key: part[key] for key in MEDIA_KEYS if key in part} for part in media]
        media = []
    return {"functionResponse": function_response}, media


def results_turn(results: list[Result]) -> dict[str, Any]:
    """The user turn of grouped tool results: the function responses in the order of
    the calls, then any media they returned (models before Gemini 3)."""
    results.sort(key=lambda item: item[0])
    parts = [part for _, part, _ in results]
    for _, _, media in results:
        parts += media
    return {"role": "user", "parts": parts}
