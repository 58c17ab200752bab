"""Responses tools -> Gemini tools, and the map back from a Gemini function name to the
tool the client declared (so that a call comes back as the item type the client expects).

- `function` tools (strict or not) -> function declarations, schemas through the shared
  converter;
- `custom` (freeform) tools, whose input is plain text (Codex's apply_patch) -> a
  function with one string parameter `input`; a call comes back as `custom_tool_call`
  with that text. The tool's grammar, if any, is added to the description so that the
  model knows the syntax;
- `local_shell` -> a function `shell` taking a command array (the action Codex runs); a
  call comes back as `local_shell_call`;
- `namespace` tools (Codex groups its agent tools so) -> their functions and custom
  tools as `<namespace>__<name>`; a call comes back with `namespace` and the bare name;
- `web_search` (and its preview and dated names) -> Gemini's `googleSearch`. Gemini
  before 3 cannot combine Google Search with function calling in one request, so there
  a request that also has functions goes without Google Search rather than failing
  (Codex declares web_search in every request);
- any other hosted tool (file_search, computer use, MCP, ...) is a 400 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..translate.schema import Budget
from ..translate.thinking import gemini_version
from ..translate.tools import TOOL_CHOICE, declaration

SHELL = "shell"
SHELL_PARAMETERS = {
    "type": "object",
    "properties": {
        "command": {"type": "array", "items": {"type": "string"}, "description": "The command and its arguments."},
        "workdir": {"type": "string", "description": "The working directory."},
        "timeout_ms": {"type": "integer", "description": "The timeout in milliseconds."},
    },
    "required": ["command"],
}
CUSTOM_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's whole input, as plain text."}},
    "required": ["input"],
}
SEARCH_TYPES = frozenset({"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"})


@dataclass(frozen=True)
class Tool:
    """What the client declared behind a Gemini function name."""

    kind: str  # "function", "custom" or "shell"
    name: str
    namespace: str | None = None


@dataclass
class Tools:
    declarations: list[dict[str, Any]] = field(default_factory=list)
    by_name: dict[str, Tool] = field(default_factory=dict)
    search: bool = False
    budget: Budget = field(default_factory=Budget)  # one for all the tools' schemas

    def gemini_tools(self, model: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.declarations:
            out.append({"functionDeclarations": self.declarations})
        if self.search and (not self.declarations or (gemini_version(model) or (0, 0)) >= (3, 0)):
            out.append({"googleSearch": {}})
        return out


def gemini_name(name: str, namespace: Any = None) -> str:
    return f"{namespace}__{name}" if isinstance(namespace, str) and namespace else name


def parse_tools(tools: Any) -> Tools:
    out = Tools()
    if tools is None:
        return out
    if not isinstance(tools, list):
        raise BadRequest("tools must be a list.", "tools")
    for j, tool in enumerate(tools):
        _add(out, tool, f"tools[{j}]", None)
    return out


def _add(out: Tools, tool: Any, param: str, namespace: str | None) -> None:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in ("function", "custom"):
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{param}.name is required.", f"{param}.name")
        if kind == "function":
            decl = declaration(
                gemini_name(name, namespace),
                tool.get("description"),
                tool.get("parameters"),
                f"{param}.parameters",
                out.budget,
            )
        else:
            decl = declaration(gemini_name(name, namespace), _custom_description(tool), CUSTOM_PARAMETERS)
        _declare(out, decl, Tool(kind, name, namespace), param)
    elif kind == "local_shell" and namespace is None:
        decl = declaration(
            SHELL, "Runs a shell command on the user's machine and returns its output.", SHELL_PARAMETERS
        )
        _declare(out, decl, Tool("shell", SHELL), param)
    elif kind == "namespace" and namespace is None:
        name = tool.get("name")
        inner = tool.get("tools")
        if not isinstance(name, str) or not name or not isinstance(inner, list):
            raise BadRequest(f"{param} must be a namespace with a name and a list of tools.", param)
        for k, sub in enumerate(inner):
            _add(out, sub, f"{param}.tools[{k}]", name)
    elif kind in SEARCH_TYPES and namespace is None:
        out.search = True
    else:
        raise BadRequest(
            f"{param} has the tool type {kind!r}, which this proxy does not support (function, custom, "
            "local_shell, namespace and web_search are).",
            f"{param}.type",
        )


def _declare(out: Tools, decl: dict[str, Any], tool: Tool, param: str) -> None:
    if decl["name"] in out.by_name:
        raise BadRequest(f"{param} declares the tool {decl['name']!r} a second time.", param)
    out.by_name[decl["name"]] = tool
    out.declarations.append(decl)


def _custom_description(tool: dict[str, Any]) -> str:
    given = tool.get("description")
    description = given if isinstance(given, str) else ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax") or "lark"
        description += f"\n\nPass the whole input as the string `input`; it must follow this {syntax} grammar:\n{fmt['definition']}"
    else:
        description += "\n\nPass the whole input as the string `input`, as plain text."
    return description.strip()


def tool_config(choice: Any, tools: Tools) -> dict[str, Any] | None:
    """tool_choice -> Gemini's functionCallingConfig (only sent with functions)."""
    if choice is None or not tools.declarations:
        if isinstance(choice, str) and choice not in TOOL_CHOICE:
            raise BadRequest(f"tool_choice must be none, auto, required or a tool, not {choice!r}.", "tool_choice")
        return None
    if isinstance(choice, str):
        mode = TOOL_CHOICE.get(choice)
        if mode is None:
            raise BadRequest(f"tool_choice must be none, auto, required or a tool, not {choice!r}.", "tool_choice")
        return {"functionCallingConfig": {"mode": mode}}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("function", "custom"):
        names = [_chosen(choice, tools)]
        mode = "ANY"
    elif kind == "local_shell":
        names, mode = [SHELL], "ANY"
    elif kind == "allowed_tools":
        listed = choice.get("tools")
        if not isinstance(listed, list):
            raise BadRequest("tool_choice.tools must be a list of tools.", "tool_choice.tools")
        names = [
            SHELL if isinstance(t, dict) and t.get("type") == "local_shell" else _chosen(t, tools)
            for t in listed
            if not (isinstance(t, dict) and t.get("type") in SEARCH_TYPES)
        ]
        mode = "ANY" if choice.get("mode") == "required" else "AUTO"
    elif kind in SEARCH_TYPES:
        return {"functionCallingConfig": {"mode": "AUTO"}}
    else:
        raise BadRequest(f"tool_choice has the type {kind!r}, which this proxy does not support.", "tool_choice")
    return {"functionCallingConfig": {"mode": mode, "allowedFunctionNames": names}}


def _chosen(choice: Any, tools: Tools) -> str:
    name = choice.get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest('tool_choice must name a tool: {"type": "function", "name": ...}.', "tool_choice")
    gemini = gemini_name(name, choice.get("namespace"))
    if gemini not in tools.by_name:
        raise BadRequest(f"tool_choice names the tool {name!r}, which is not in tools.", "tool_choice")
    return gemini
