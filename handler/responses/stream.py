"""Gemini's answer -> the Responses API's events and `response` object.

`ResponseStream` is the stream component's `Translator` (streaming.py) for
`/v1/responses`: it sends OpenAI's whole event sequence, each event with a
`sequence_number` one higher than the last:

    response.created, response.in_progress,
    per item: response.output_item.added, then
      reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta...,
                 response.reasoning_summary_text.done, response.reasoning_summary_part.done
      message:   response.content_part.added, response.output_text.delta...,
                 response.output_text.annotation.added..., response.output_text.done,
                 response.content_part.done
      calls:     response.function_call_arguments.delta / .done
                 (custom tools: response.custom_tool_call_input.delta / .done)
    response.output_item.done,
    response.completed (or response.incomplete; after an upstream failure: error, response.failed).

The same class, with `emit=False`, builds the whole (non-streamed) `response` object,
so that both come out the same. Gemini parts arrive in order; a new kind of part (a
thought after text, a call) closes the open item and opens the next.
"""

from __future__ import annotations

from typing import Any

from ..encoding import dumps
from ..errors import ProxyError
from ..translate.answers import blocked_text
from . import signatures
from .output import (
    INCOMPLETE,
    call_item,
    citations,
    envelope,
    failure,
    message_item,
    new_id,
    now,
    reasoning_item,
    tool_of,
    usage,
)
from .request import ResponsesCall


class ResponseStream:
    def __init__(self, call: ResponsesCall, emit: bool = True) -> None:
        self.call = call
        self.emit = emit
        self.rid = new_id("resp_")
        self.created = now()
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self.open: str | None = None  # "reasoning" or "message": the item being streamed
        self.pieces: list[str] = []  # the open item's text so far
        self.delta_head = b""  # the open item's delta event, serialised up to the delta
        self.signature: str | None = None  # a signature on a text or thought part, not yet placed
        self.calls = 0
        self.finish: str | None = None
        self.blocked: str | None = None
        self.grounding: dict[str, Any] | None = None
        self.meta: dict[str, Any] | None = None

    # Framing ---------------------------------------------------------------------------

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        seq = self.seq
        self.seq += 1
        if not self.emit:
            return b""
        body = dumps({"type": kind, "sequence_number": seq, **fields})
        return b"event: " + kind.encode() + b"\ndata: " + body.encode() + b"\n\n"

    def _delta(self, text: str) -> bytes:
        """The hot path: one text delta, its constant part serialised once per item."""
        seq = self.seq
        self.seq += 1
        self.pieces.append(text)
        if not self.emit:
            return b""
        return self.delta_head + str(seq).encode() + b',"delta":' + dumps(text).encode() + self.delta_tail

    def _response(self, status: str) -> dict[str, Any]:
        return envelope(self.call, self.rid, self.created, status, self.output)

    # Translator ------------------------------------------------------------------------

    def start(self) -> bytes:
        """response.created and response.in_progress: one serialisation of the response
        (it echoes the request's tools, which can be large) for both."""
        response = dumps(self._response("in_progress")).encode()
        out = []
        for kind in ("response.created", "response.in_progress"):
            head = f'event: {kind}\ndata: {{"type":"{kind}","sequence_number":{self.seq},"response":'
            self.seq += 1
            out.append(head.encode() + response + b"}\n\n")
        return b"".join(out) if self.emit else b""

    def event(self, data: dict[str, Any]) -> bytes:
        out: list[bytes] = []
        candidates = data.get("candidates")
        if candidates:
            candidate = candidates[0]
            for part in (candidate.get("content") or {}).get("parts") or ():
                self._part(part, out)
            if candidate.get("groundingMetadata"):
                self.grounding = candidate["groundingMetadata"]
            if candidate.get("finishReason"):
                self.finish = candidate["finishReason"]
        elif self.blocked is None:
            self.blocked = blocked_text(data)
            if self.blocked:
                self._text(self.blocked, out)
        if data.get("usageMetadata"):
            self.meta = data["usageMetadata"]
        return b"".join(out)

    def end(self) -> bytes:
        out: list[bytes] = []
        self._close(out)
        response = self._final()
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        out.append(self._event(kind, {"response": response}))
        return b"".join(out)

    def error(self, exc: ProxyError) -> bytes:
        out: list[bytes] = []
        self._close(out)
        error = failure(exc)
        out.append(self._event("error", {"code": error["code"], "message": error["message"], "param": exc.param}))
        response = self._response("failed")
        response["error"] = error
        response["usage"] = usage(self.meta)
        out.append(self._event("response.failed", {"response": response}))
        return b"".join(out)

    def whole(self, data: dict[str, Any]) -> dict[str, Any]:
        """The whole `response` object for a non-streamed answer."""
        self.event(data)
        self._close([])
        return self._final()

    def _final(self) -> dict[str, Any]:
        reason = "content_filter" if self.blocked else INCOMPLETE.get(self.finish or "STOP")
        response = self._response("incomplete" if reason else "completed")
        if reason:
            response["incomplete_details"] = {"reason": reason}
        response["usage"] = usage(self.meta)
        return response

    # Parts -----------------------------------------------------------------------------

    def _part(self, part: dict[str, Any], out: list[bytes]) -> None:
        if "functionCall" in part:
            self._call(part, out)
            return
        text = part.get("text")
        if text is None and "inlineData" in part and not part.get("thought"):
            blob = part["inlineData"]
            text = f"![image](data:{blob.get('mimeType', 'image/png')};base64,{blob.get('data', '')})"
        if text:
            if part.get("thought"):
                self._thought(text, out)
            else:
                self._text(text, out)
        if part.get("thoughtSignature"):  # after the text: it belongs to the item now open
            self.signature = part["thoughtSignature"]

    def _thought(self, text: str, out: list[bytes]) -> None:
        if self.open != "reasoning":
            self._close(out)
            self._open_reasoning(out)
        out.append(self._delta(text))

    def _text(self, text: str, out: list[bytes]) -> None:
        if self.open != "message":
            self._close(out)
            self._open_message(out)
        out.append(self._delta(text))

    def _open_reasoning(self, out: list[bytes]) -> None:
        item = reasoning_item(new_id("rs_"), "", None, self.call.encrypted)
        index = self._add(item, out)
        fields = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        out.append(
            self._event(
                "response.reasoning_summary_part.added", {**fields, "part": {"type": "summary_text", "text": ""}}
            )
        )
        self._delta_frame("response.reasoning_summary_text.delta", fields, b"}\n\n")
        self.open = "reasoning"

    def _open_message(self, out: list[bytes]) -> None:
        item = message_item(new_id("msg_"), "", [], "in_progress")
        item["content"] = []
        index = self._add(item, out)
        fields = {"item_id": item["id"], "output_index": index, "content_index": 0}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        out.append(self._event("response.content_part.added", {**fields, "part": part}))
        self._delta_frame("response.output_text.delta", fields, b',"logprobs":[]}\n\n')
        self.open = "message"

    def _delta_frame(self, kind: str, fields: dict[str, Any], tail: bytes) -> None:
        head = dumps({"type": kind, **fields})[:-1]
        self.delta_head = f'event: {kind}\ndata: {head},"sequence_number":'.encode()
        self.delta_tail = tail
        self.pieces = []

    def _add(self, item: dict[str, Any], out: list[bytes]) -> int:
        index = len(self.output)
        self.output.append(item)
        out.append(self._event("response.output_item.added", {"output_index": index, "item": item}))
        return index

    def _done(self, item: dict[str, Any], out: list[bytes]) -> None:
        index = len(self.output) - 1
        self.output[index] = item
        out.append(self._event("response.output_item.done", {"output_index": index, "item": item}))

    def _close(self, out: list[bytes]) -> None:
        """Close the open reasoning or message item; place a pending text signature."""
        kind, self.open = self.open, None
        if kind == "reasoning":
            self._close_reasoning(out)
        elif kind == "message":
            self._close_message(out)
            if self.signature and self.call.encrypted:
                # Gemini signed the answer's text: the signature rides in a reasoning item after it.
                item = reasoning_item(new_id("rs_"), "", self.signature, True)
                self._add(item, out)
                self._done(item, out)
        self.signature = None if kind else self.signature

    def _close_reasoning(self, out: list[bytes]) -> None:
        item = self.output[-1]
        text = "".join(self.pieces)
        fields = {"item_id": item["id"], "output_index": len(self.output) - 1, "summary_index": 0}
        out.append(self._event("response.reasoning_summary_text.done", {**fields, "text": text}))
        part = {"type": "summary_text", "text": text}
        out.append(self._event("response.reasoning_summary_part.done", {**fields, "part": part}))
        signature = self.signature if self.call.encrypted else None
        self._done(reasoning_item(item["id"], text, signature, self.call.encrypted), out)
        self.signature = None

    def _close_message(self, out: list[bytes]) -> None:
        item = self.output[-1]
        text = "".join(self.pieces)
        fields = {"item_id": item["id"], "output_index": len(self.output) - 1, "content_index": 0}
        found = citations(text, self.grounding)
        for i, annotation in enumerate(found):
            out.append(
                self._event(
                    "response.output_text.annotation.added", {**fields, "annotation_index": i, "annotation": annotation}
                )
            )
        out.append(self._event("response.output_text.done", {**fields, "text": text, "logprobs": []}))
        done = message_item(item["id"], text, found)
        out.append(self._event("response.content_part.done", {**fields, "part": done["content"][0]}))
        self._done(done, out)

    def _call(self, part: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        if self.calls and not self.call.parallel:
            return  # parallel_tool_calls: false asks for one call per turn
        self.calls += 1
        call = part["functionCall"]
        args = call.get("args") or {}
        arguments = dumps(args)
        tool = tool_of(call.get("name", ""), self.call.tools)
        call_id = signatures.new_call_id(part.get("thoughtSignature"))
        item = call_item(tool, call_id, args, arguments, "in_progress")
        blank = dict(item, **({"arguments": ""} if "arguments" in item else {"input": ""} if "input" in item else {}))
        index = self._add(blank, out)
        fields = {"item_id": item["id"], "output_index": index}
        if item["type"] == "function_call":
            out.append(self._event("response.function_call_arguments.delta", {**fields, "delta": arguments}))
            out.append(
                self._event(
                    "response.function_call_arguments.done", {**fields, "name": tool.name, "arguments": arguments}
                )
            )
        elif item["type"] == "custom_tool_call":
            out.append(self._event("response.custom_tool_call_input.delta", {**fields, "delta": item["input"]}))
            out.append(self._event("response.custom_tool_call_input.done", {**fields, "input": item["input"]}))
        item["status"] = "completed"
        self._done(item, out)
