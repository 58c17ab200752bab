"""Responses input items -> Gemini `systemInstruction` parts and `contents`.

- `instructions` and `system` / `developer` messages -> the system instruction, in order;
- `user` messages -> user turns (`input_text`, `input_image`, `input_file`);
- consecutive model items (`assistant` messages, `reasoning`, `function_call`,
  `custom_tool_call`, `local_shell_call`) -> one model turn;
- tool outputs (`function_call_output`, `custom_tool_call_output`,
  `local_shell_call_output`) -> one user turn of `functionResponse` parts in the order of
  the calls of the model turn before them (decision 1), matched by `call_id`; an output
  that matches no call of that turn is a 400. Images and files in an output follow
  the responses in the same turn;
- thought signatures come back from call ids and `encrypted_content` (signatures.py): a
  reasoning item of ours becomes an empty text part carrying its signature, at its
  place in the turn (as Gemini itself streams a signature after the text); reasoning
  summaries are not sent back (Gemini does not need its thoughts as input);
- `shell_call` / `apply_patch_call` (the built-in shell and patch tools) are calls of
  the functions `shell` / `apply_patch` (functions.py), their outputs the responses;
- `web_search_call` items are accepted and left out: the search ran at Google, and
  what it found is in the answer that follows;
- `additional_tools` items (Codex declares its tools so for its newer models) add their
  tools to the request's `tools`;
- a `compaction` item sealed by this proxy is opened into its summary (compaction.py);
- `item_reference` is a 400 (nothing is stored: send the item itself);
- any other item type (`tool_search_call` and its output, a `compaction` OpenAI made,
  MCP items, hosted tool calls, whatever a client release adds next) is left out and
  named in `x-proxy-dropped` (`input[5]:mcp_list_tools`), as is a user content part of
  an unknown type (`input[2].content[1]:input_video`). Nothing is dropped silently.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from ..translate import media
from ..translate.content import listed, text_of, text_parts
from ..translate.dropped import entry
from ..translate.tools import arguments, result_object, sign_first_call
from . import compaction, signatures
from .functions import APPLY_PATCH, SHELL, gemini_name

FILES_API = "https://generativelanguage.googleapis.com/v1beta/"
MODEL_ITEMS = frozenset(
    {"reasoning", "function_call", "custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call"}
)
OUTPUT_ITEMS = frozenset(
    {
        "function_call_output",
        "custom_tool_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
    }
)
Secrets = Callable[[], Awaitable[list[bytes]]]  # the compaction secrets, asked for only when needed
MEDIA = frozenset({"input_image", "input_file"})
Part = dict[str, Any]


class Contents:
    """Builds the Gemini conversation item by item (one pass over `input`)."""

    def __init__(self, settings: Settings, sign: bool, secrets: Secrets | None = None) -> None:
        self.settings = settings
        self.sign = sign
        self.secrets = secrets  # opens compaction items of ours (compaction.py)
        self.system: list[Part] = []
        self.contents: list[dict[str, Any]] = []
        self.model: list[Part] | None = None  # the model turn being built
        self.calls: dict[str, tuple[int, str]] = {}  # call_id -> (position, name) in the last model turn
        self.results: list[tuple[int, Part]] | None = None
        self.attached: list[Part] = []  # media from tool outputs
        self.dropped: list[str] = []  # x-proxy-dropped entries
        self.more_tools: list[tuple[str, Any]] = []  # (where, tools) of additional_tools items

    async def add(self, item: Any, i: int) -> None:
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object.", where)
        kind = item.get("type") or ("message" if "role" in item else None)
        if not isinstance(kind, str):
            raise BadRequest(f"{where}.type is required.", f"{where}.type")
        if kind == "message":
            await self._message(item, where)
        elif kind in MODEL_ITEMS:
            self._model_item(item, kind, where)
        elif kind in OUTPUT_ITEMS:
            await self._output(item, kind, where)
        elif kind == "web_search_call":
            pass
        elif kind == "additional_tools":  # Codex declares tools in input for its newer models
            self.more_tools.append((f"{where}.tools", item.get("tools")))
        elif kind == "compaction" and compaction.is_ours(item.get("encrypted_content")):
            candidates = await self.secrets() if self.secrets else []
            self._summary(compaction.unseal(item.get("encrypted_content"), candidates, f"{where}.encrypted_content"))
        elif kind == "item_reference":
            raise BadRequest(
                f"{where} is an item_reference; this proxy stores nothing, so send the item itself in input "
                "(the Vercel AI SDK does with providerOptions: {openai: {store: false}}).",
                where,
            )
        else:
            self.dropped.append(entry(where, kind))

    def finish(self) -> tuple[list[Part], list[dict[str, Any]]]:
        self._close_model()
        self._close_results()
        return self.system, self.contents

    def _summary(self, text: str) -> None:
        """A compacted conversation, told to the model as what came before."""
        self._close_model()
        self._close_results()
        self.contents.append({"role": "user", "parts": [{"text": compaction.context(text)}]})

    # Turns -----------------------------------------------------------------------------

    def _open_model(self) -> list[Part]:
        self._close_results()
        if self.model is None:
            self.model = []
            self.calls = {}
        return self.model

    def _model_part(self, part: Part) -> None:
        self._open_model().append(part)

    def _close_model(self) -> None:
        parts = self.model
        if parts is None:
            return
        if self.sign:
            sign_first_call(parts)
        if parts:
            self.contents.append({"role": "model", "parts": parts})
        self.model = None

    def _close_results(self) -> None:
        if self.results is None:
            return
        self.results.sort(key=lambda item: item[0])
        self.contents.append({"role": "user", "parts": [part for _, part in self.results] + self.attached})
        self.results = None
        self.attached = []

    # Items -----------------------------------------------------------------------------

    async def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        content = item.get("content")
        if role in ("system", "developer"):
            self.system += text_parts(content, f"{where}.content", ("input_text", "output_text"))
        elif role == "user":
            parts = await self._user_parts(content, f"{where}.content")
            self._close_model()
            self._close_results()
            if parts:
                self.contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            for part in text_parts(content, f"{where}.content", ("input_text", "output_text")):
                self._model_part(part)
            self._open_model()
        else:
            raise BadRequest(
                f"{where} has the role {role!r}; use user, assistant, system or developer.", f"{where}.role"
            )

    def _model_item(self, item: dict[str, Any], kind: str, where: str) -> None:
        if kind == "reasoning":
            # A signature of ours goes back where Gemini sent it: a part of its own at this
            # place in the turn (the thought text itself is not sent back).
            signature = signatures.of_encrypted(item.get("encrypted_content"))
            parts = self._open_model()
            if signature:
                parts.append({"text": "", "thoughtSignature": signature})
            return
        call_id = item.get("call_id") if kind != "local_shell_call" else item.get("call_id") or item.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise BadRequest(f"{where}.call_id is required.", f"{where}.call_id")
        if kind == "local_shell_call":
            name, args = SHELL, _shell_args(item.get("action"), where)
        elif kind == "shell_call":
            action = item.get("action")
            name, args = (
                SHELL,
                {k: v for k, v in action.items() if k in ("commands", "timeout_ms")}
                if isinstance(action, dict)
                else {},
            )
        elif kind == "apply_patch_call":
            operation = item.get("operation")
            name, args = APPLY_PATCH, operation if isinstance(operation, dict) else {}
        else:
            raw = item.get("name")
            if not isinstance(raw, str) or not raw:
                raise BadRequest(f"{where}.name is required.", f"{where}.name")
            name = gemini_name(raw, item.get("namespace"))
            args = (
                arguments(item.get("arguments"), f"{where}.arguments")
                if kind == "function_call"
                else {"input": _text(item.get("input"))}
            )
        part: Part = {"functionCall": {"name": name, "args": args}}
        signature = signatures.of_call_id(call_id)
        if signature:
            part["thoughtSignature"] = signature
        parts = self._open_model()
        self.calls[call_id] = (sum("functionCall" in p for p in parts), name)
        self._model_part(part)

    async def _output(self, item: dict[str, Any], kind: str, where: str) -> None:
        call_id = item.get("call_id")
        if kind == "local_shell_call_output" and not call_id:
            call_id = item.get("id")
        self._close_model()
        if not isinstance(call_id, str) or call_id not in self.calls:
            raise BadRequest(
                f"{where} is a {kind} for call_id {call_id!r}, which matches no call of the model turn before it. "
                "This proxy stores nothing: send the whole conversation in input.",
                f"{where}.call_id",
            )
        position, name = self.calls[call_id]
        text: Any
        media_parts: list[Part]
        if kind == "shell_call_output":  # a list of {stdout, stderr, outcome}, not content parts
            text, media_parts = {"output": item.get("output")}, []
        elif kind == "apply_patch_call_output":
            text, media_parts = {"status": item.get("status"), "output": item.get("output")}, []
        else:
            text, media_parts = await self._output_content(item.get("output"), f"{where}.output")
        if self.results is None:
            self.results = []
        self.results.append(
            (position, {"functionResponse": {"name": name, "response": result_object(text, f"{where}.output")}})
        )
        self.attached += media_parts

    async def _output_content(self, output: Any, param: str) -> tuple[Any, list[Part]]:
        """A tool output's text (or JSON value) and any images or files in it."""
        if not isinstance(output, list):
            return ("" if output is None else output), []
        texts: list[str] = []
        parts: list[Part] = []
        for j, piece in enumerate(output):
            kind = piece.get("type") if isinstance(piece, dict) else None
            if kind in ("input_text", "output_text"):
                texts.append(text_of(piece, f"{param}[{j}]"))
            elif kind in MEDIA:
                parts.append(await self._media(piece, kind, f"{param}[{j}]"))
            else:
                self.dropped.append(entry(f"{param}[{j}]", kind))
        return "".join(texts), parts

    async def _user_parts(self, content: Any, param: str) -> list[Part]:
        parts: list[Part] = []
        for j, piece in enumerate(listed(content, param, "input_text")):
            kind = piece.get("type") if isinstance(piece, dict) else None
            if kind == "input_text":
                text = text_of(piece, f"{param}[{j}]")
                if text:
                    parts.append({"text": text})
            elif kind in MEDIA:
                parts.append(await self._media(piece, kind, f"{param}[{j}]"))
            else:
                self.dropped.append(entry(f"{param}[{j}]", kind))
        return parts

    async def _media(self, piece: Any, kind: Any, param: str) -> Part:
        """An `input_file` or `input_image` part (the kinds in MEDIA)."""
        if kind == "input_file":
            return await self._file(piece, param)
        url = piece.get("image_url")
        if isinstance(url, str) and url:
            return await media.url_part(url, self.settings, f"{param}.image_url")
        return _file_id(piece.get("file_id"), param, "image_url or file_id")

    async def _file(self, piece: dict[str, Any], param: str) -> Part:
        """`input_file`: base64 `file_data` (a data URL, or bare base64 typed by its
        filename, PDF by default), a `file_url`, or a `file_id` of the Gemini Files API."""
        data = piece.get("file_data")
        if isinstance(data, str) and data:
            if data[:5].lower() == "data:":
                return media.data_url_part(data, f"{param}.file_data")
            if not media.is_base64(data):
                raise BadRequest(f"{param}.file_data is not valid base64.", f"{param}.file_data")
            filename = piece.get("filename")
            mime = (mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None) or "application/pdf"
            return {"inlineData": {"mimeType": mime, "data": data}}
        url = piece.get("file_url")
        if isinstance(url, str) and url:
            return await media.url_part(url, self.settings, f"{param}.file_url")
        return _file_id(piece.get("file_id"), param, "file_data, file_url or file_id")


def _file_id(file_id: Any, param: str, wanted: str) -> Part:
    if isinstance(file_id, str) and file_id.startswith("files/"):
        return {"fileData": {"fileUri": FILES_API + file_id}}
    raise BadRequest(
        f"{param} needs {wanted}; a file_id must be a Gemini Files API name (files/...), as this proxy "
        "cannot read OpenAI's files.",
        param,
    )


def _shell_args(action: Any, where: str) -> dict[str, Any]:
    command = action.get("command") if isinstance(action, dict) else None
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise BadRequest(f"{where}.action.command must be a list of strings.", f"{where}.action")
    args: dict[str, Any] = {"command": command}
    if isinstance(action.get("working_directory"), str):
        args["workdir"] = action["working_directory"]
    if isinstance(action.get("timeout_ms"), int):
        args["timeout_ms"] = action["timeout_ms"]
    return args


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
