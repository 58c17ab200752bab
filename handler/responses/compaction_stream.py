"""Gemini's summary -> the one `compaction` item of a compaction answer (compaction.py).

`CompactionStream` is the Responses stream translator with the items left out: the
summary's text is collected (thoughts are not part of it), and at the end exactly one
item goes out, `{"type": "compaction", "encrypted_content": <the sealed summary>}`, in
`response.output_item.added` / `response.output_item.done` and in
`response.completed`, which is what Codex reads. An answer with no summary text (a
blocked prompt, an empty answer) is a failure (`response.failed`, or a 502 when not
streamed), never an empty compaction that would throw the conversation away.

`compacted` is the `POST /v1/responses/compact` answer: OpenAI's `response.compaction`
object, whose `output` is the input's user messages followed by that one item.
"""

from __future__ import annotations

from typing import Any

from ..errors import UpstreamFailed
from . import compaction
from .output import new_id, usage
from .request import ResponsesCall
from .stream import ResponseStream

EMPTY = "Gemini wrote no summary for this compaction (an empty or blocked answer); nothing was compacted."


class CompactionStream(ResponseStream):
    def __init__(self, call: ResponsesCall, emit: bool = True) -> None:
        super().__init__(call, emit)
        self.summary: list[str] = []

    def _part(self, part: dict[str, Any], out: list[bytes]) -> None:
        text = part.get("text")
        if isinstance(text, str) and not part.get("thought"):
            self.summary.append(text)

    def _text(self, text: str, out: list[bytes]) -> None:
        pass  # a blocked prompt's explanation is no summary

    def end(self) -> bytes:
        summary = "".join(self.summary).strip()
        if not summary:
            return self.error(UpstreamFailed(EMPTY))
        out: list[bytes] = []
        item = compaction.item(summary, self.call.secrets, new_id("cmp_"))
        self._add(item, out)
        self._done(item, out)
        out.append(self._event("response.completed", {"response": self._final()}))
        return b"".join(out)

    def whole(self, data: dict[str, Any]) -> dict[str, Any]:
        self.event(data)
        summary = "".join(self.summary).strip()
        if not summary:
            raise UpstreamFailed(EMPTY)
        self.output.append(compaction.item(summary, self.call.secrets, new_id("cmp_")))
        return self._final()

    def _final(self) -> dict[str, Any]:
        """Completed even when Gemini stopped at its token limit: the item is whole."""
        response = self._response("completed")
        response["usage"] = usage(self.meta)
        return response


def compacted(call: ResponsesCall, data: dict[str, Any]) -> dict[str, Any]:
    """The `/v1/responses/compact` answer."""
    response = CompactionStream(call, emit=False).whole(data)
    return {
        "id": response["id"],
        "object": "response.compaction",
        "created_at": response["created_at"],
        "output": [*call.kept, *response["output"]],
        "usage": response["usage"],
    }
