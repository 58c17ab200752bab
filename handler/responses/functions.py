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
- `shell` (the newer shell tool) -> a function `shell` taking a list of command lines; a
  call comes back as `shell_call` with `action.commands`;
- `apply_patch` (the built-in patch tool) -> a function `apply_patch` taking one file
  operation (`create_file`, `update_file` with a V4A diff, `delete_file`); a call comes
  back as `apply_patch_call` with that `operation`;
- `namespace` tools (Codex groups its agent tools so) -> their functions and custom
  tools as `<namespace>__<name>`; a call comes back with `namespace` and the bare name;
- `web_search` (and its preview and dated names) -> Gemini's `googleSearch`; its options
  (`search_content_types`, `filters`, `user_location`, `search_context_size`,
  `external_web_access`) have no Gemini equivalent and are ignored;
- `code_interpreter` -> Gemini's code execution (`codeExecution`); its container is ignored;
- Gemini before 3 cannot combine those built-in tools with function calling in one
  request, so there a request that also has functions goes without them rather than
  failing (Codex declares web_search in every request), and says so in `x-proxy-dropped`;
- tools marked `defer_loading` are declared like the others: Gemini sees them all at
  once, which is why `tool_search` (loading them on demand) can be dropped;
- any other tool type (`tool_search`, `file_search`, `mcp`, computer use, image
  generation, and whatever a client release adds next) is dropped and named in
  `x-proxy-dropped` (`tools[3]:tool_search`), never a 400 by itself. A `tool_choice`
  that requires a dropped tool is a 400 that says it was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..translate.dropped import entry
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
APPLY_PATCH = "apply_patch"
APPLY_PATCH_PARAMETERS = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["create_file", "update_file", "delete_file"]},
        "path": {"type": "string", "description": "The file's path."},
        "diff": {"type": "string", "description": "The V4A diff (for create_file: the whole file as + lines)."},
    },
    "required": ["type", "path"],
}
SHELL_CALL_PARAMETERS = {
    "type": "object",
    "properties": {
        "commands": {"type": "array", "items": {"type": "string"}, "description": "Shell command lines to run."},
        "timeout_ms": {"type": "integer", "description": "The timeout in milliseconds."},
    },
    "required": ["commands"],
}
SEARCH_TYPES = frozenset({"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"})
CODE_TYPES = frozenset({"code_interpreter"})
BUILT_IN = frozenset({"shell", "shell_call", "apply_patch"})  # Tool kinds the proxy declares itself


@dataclass(frozen=True)
class Tool:
    """What the client declared behind a Gemini function name."""

    kind: str  # "function", "custom", "shell" (local_shell), "shell_call" (shell) or "apply_patch"
    name: str
    namespace: str | None = None


@dataclass
class Tools:
    declarations: list[dict[str, Any]] = field(default_factory=list)
    by_name: dict[str, Tool] = field(default_factory=dict)
    search: bool = False
    code: bool = False
    budget: Budget = field(default_factory=Budget)  # one for all the tools' schemas
    dropped: list[str] = field(default_factory=list)  # x-proxy-dropped entries
    dropped_kinds: set[str] = field(default_factory=set)
    search_at: str = "tools"  # where web_search / code_interpreter were declared
    code_at: str = "tools"

    def gemini_tools(self, model: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.declarations:
            out.append({"functionDeclarations": self.declarations})
        combines = not self.declarations or (gemini_version(model) or (0, 0)) >= (3, 0)
        for wanted, tool, where, kind in (
            (self.search, "googleSearch", self.search_at, "web_search"),
            (self.code, "codeExecution", self.code_at, "code_interpreter"),
        ):
            if wanted and combines:
                out.append({tool: {}})
            elif wanted:
                self.dropped.append(entry(where, kind))
        return out

    def drop(self, param: str, kind: Any) -> None:
        self.dropped.append(entry(param, kind))
        if isinstance(kind, str):
            self.dropped_kinds.add(kind)


def gemini_name(name: str, namespace: Any = None) -> str:
    return f"{namespace}__{name}" if isinstance(namespace, str) and namespace else name


def parse_tools(tools: Any, out: Tools | None = None, param: str = "tools") -> Tools:
    """`tools` (or, into the same `out`, the tools of an `additional_tools` input item)."""
    out = out or Tools()
    if tools is None:
        return out
    if not isinstance(tools, list):
        raise BadRequest(f"{param} must be a list.", param)
    for j, tool in enumerate(tools):
        _add(out, tool, f"{param}[{j}]", None)
    return out


def _add(out: Tools, tool: Any, param: str, namespace: str | None) -> None:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if not isinstance(kind, str):
        raise BadRequest(f"{param} must be a tool: an object with a type.", f"{param}.type")
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
    elif kind == "shell" and namespace is None:
        decl = declaration(SHELL, "Runs shell command lines on the user's machine.", SHELL_CALL_PARAMETERS)
        _declare(out, decl, Tool("shell_call", SHELL), param)
    elif kind == APPLY_PATCH and namespace is None:
        description = "Creates, updates (with a V4A diff) or deletes one file in the user's workspace."
        _declare(
            out, declaration(APPLY_PATCH, description, APPLY_PATCH_PARAMETERS), Tool(APPLY_PATCH, APPLY_PATCH), param
        )
    elif kind in SEARCH_TYPES and namespace is None:
        out.search, out.search_at = True, param
    elif kind in CODE_TYPES and namespace is None:
        out.code, out.code_at = True, param
    else:
        out.drop(param, kind)


def _declare(out: Tools, decl: dict[str, Any], tool: Tool, param: str) -> None:
    if decl["name"] in out.by_name:
        if tool.kind in BUILT_IN and out.by_name[decl["name"]].kind in BUILT_IN:
            out.drop(param, tool.kind)  # shell and local_shell both declared: the first wins
            return
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
        if isinstance(choice, dict) and choice.get("type") in tools.dropped_kinds:
            _choice_name(choice, tools, True)  # requires a dropped tool: a 400
        return None
    if isinstance(choice, str):
        mode = TOOL_CHOICE.get(choice)
        if mode is None:
            raise BadRequest(f"tool_choice must be none, auto, required or a tool, not {choice!r}.", "tool_choice")
        return {"functionCallingConfig": {"mode": mode}}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "allowed_tools":
        listed = choice.get("tools")
        if not isinstance(listed, list):
            raise BadRequest("tool_choice.tools must be a list of tools.", "tool_choice.tools")
        required = choice.get("mode") == "required"
        names = [n for t in listed if (n := _choice_name(t, tools, False)) is not None]
        if required and not names:
            raise BadRequest(
                "tool_choice requires one of tools that this proxy dropped or cannot force; nothing is left to call.",
                "tool_choice",
            )
        return {"functionCallingConfig": {"mode": "ANY" if required else "AUTO", "allowedFunctionNames": names}}
    name = _choice_name(choice, tools, True)
    if name is None:  # a built-in tool Gemini runs itself: it cannot be forced, only offered
        return {"functionCallingConfig": {"mode": "AUTO"}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _choice_name(choice: Any, tools: Tools, strict: bool) -> str | None:
    """The Gemini function a tool choice names; None for web search or code execution
    (Gemini's own tools). A choice of a dropped tool type is a 400 when `strict` (it is
    required), else left out."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in ("function", "custom"):
        return _chosen(choice, tools)
    if (
        kind in ("local_shell", "shell", APPLY_PATCH)
        and (SHELL if kind != APPLY_PATCH else APPLY_PATCH) in tools.by_name
    ):
        return SHELL if kind != APPLY_PATCH else APPLY_PATCH
    if kind in SEARCH_TYPES or kind in CODE_TYPES:
        return None
    if kind in tools.dropped_kinds or kind in ("local_shell", "shell", APPLY_PATCH):
        if not strict:
            return None
        raise BadRequest(
            f"tool_choice requires the tool type {kind!r}, which this proxy dropped from tools (see the "
            "x-proxy-dropped header of an answer without that tool_choice): Gemini cannot call it.",
            "tool_choice",
        )
    raise BadRequest(f"tool_choice has the type {kind!r}, which names no tool in tools.", "tool_choice")


def _chosen(choice: Any, tools: Tools) -> str:
    name = choice.get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequest('tool_choice must name a tool: {"type": "function", "name": ...}.', "tool_choice")
    gemini = gemini_name(name, choice.get("namespace"))
    if gemini not in tools.by_name:
        raise BadRequest(f"tool_choice names the tool {name!r}, which is not in tools.", "tool_choice")
    return gemini
