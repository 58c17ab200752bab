"""Gemini 4's long decode on the translated routes: one client answer over several hops.

One Gemini 4 call returns at most 65,536 output tokens (32,768 on a non-streamed REST
call, which refuses a larger `maxOutputTokens` with 400). A longer answer ends with
`finishReason: "CONTINUATION"` and a `continuationToken` on the candidate; the same
request sent again with that token in `generationConfig.continuationToken` goes on
where it stopped (Google's field, `continuation_token` in the SDKs' snake case; both
spellings are read here). `maxOutputTokens` counts over all hops.

So a translated route:
- never sends a non-streamed call that Gemini 4 would refuse for its size: it streams
  upstream and assembles the events into one answer (`needs_stream`, `assemble`);
- continues a CONTINUATION answer within the same client request, up to `MAX_HOPS`
  hops and the client's max tokens, with the token sent back on the key that made it
  (a token is bound to its project); the parts are appended, usage is summed over the
  hops, and the client sees one answer (streamed: the events keep coming);
- when it cannot go on (hops or budget spent), reports the stop as MAX_TOKENS.
The native pass-through never comes here: a native caller gets CONTINUATION as sent.
"""

from __future__ import annotations

from typing import Any

from .thinking import gemini_version

CONTINUATION = "CONTINUATION"
UNARY_LIMIT = 32768  # the most output tokens a non-streamed Gemini 4 call may ask for
MAX_HOPS = 16
TOKEN_FIELDS = ("continuationToken", "continuation_token")


def long_decode_model(model: str) -> bool:
    return (gemini_version(model) or (0, 0)) >= (4, 0)


def max_output(payload: dict[str, Any]) -> int | None:
    config = payload.get("generationConfig")
    value = config.get("maxOutputTokens") if isinstance(config, dict) else None
    return value if isinstance(value, int) else None


def needs_stream(model: str, payload: dict[str, Any]) -> bool:
    """A non-streamed client call that must be streamed upstream (Gemini 4 refuses it)."""
    return long_decode_model(model) and (max_output(payload) or 0) > UNARY_LIMIT


def with_token(payload: dict[str, Any], token: str) -> dict[str, Any]:
    """The same request, continuing at `token` (the partial answer is never resent)."""
    config = payload.get("generationConfig")
    return {**payload, "generationConfig": {**(config if isinstance(config, dict) else {}), "continuationToken": token}}


def add_usage(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Two hops' usageMetadata added up (counts summed; details from the later hop)."""
    total = dict(more)
    for name, value in base.items():
        if isinstance(value, int) and not isinstance(value, bool):
            other = more.get(name, 0)
            total[name] = value + (other if isinstance(other, int) else 0)
        elif name not in total:
            total[name] = value
    return total


def _first_candidate(data: dict[str, Any]) -> dict[str, Any] | None:
    candidates = data.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return None


class Hops:
    """The hops of one answer: strips CONTINUATION from the events the client's
    translator sees, keeps the token to continue with, and sums usage over hops."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.limit = max_output(payload)
        self.count = 1  # hops made so far (the first one is under way)
        self.base: dict[str, Any] = {}  # usage of the finished hops
        self.last: dict[str, Any] = {}  # usage of the hop under way, as last reported
        self.token: str | None = None

    def _spent(self) -> int:
        used = add_usage(self.base, self.last)
        return int(used.get("candidatesTokenCount", 0) or 0) + int(used.get("thoughtsTokenCount", 0) or 0)

    def _can_go_on(self) -> bool:
        return self.count < MAX_HOPS and (self.limit is None or self._spent() < self.limit)

    def event(self, data: Any) -> Any:
        """One Gemini event (or whole answer) as the client's translator should see it
        (anything not shaped as an answer is left for the translator to refuse)."""
        if not isinstance(data, dict):
            return data
        usage = data.get("usageMetadata")
        if isinstance(usage, dict):
            self.last = usage
            if self.base:
                data["usageMetadata"] = add_usage(self.base, usage)
        candidate = _first_candidate(data)
        if candidate is None:
            return data
        token = next((candidate.pop(f) for f in TOKEN_FIELDS if f in candidate), None)
        if candidate.get("finishReason") == CONTINUATION:
            if isinstance(token, str) and token and self._can_go_on():
                self.token = token
                del candidate["finishReason"]
            else:
                candidate["finishReason"] = "MAX_TOKENS"
        return data

    def next_token(self) -> str | None:
        """At the end of a hop: the token to continue with (the hop's usage is banked)."""
        token, self.token = self.token, None
        if token is not None:
            self.base = add_usage(self.base, self.last)
            self.last = {}
            self.count += 1
        return token


def merge_parts(parts: list[Any]) -> list[Any]:
    """Adjacent text parts of the same kind (answer or thought) joined into one; a
    thought signature stays on the joined part; other parts stay as they are."""
    merged: list[Any] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if (
            isinstance(part, dict)
            and isinstance(previous, dict)
            and isinstance(part.get("text"), str)
            and isinstance(previous.get("text"), str)
            and set(part) <= {"text", "thought", "thoughtSignature"}
            and set(previous) <= {"text", "thought", "thoughtSignature"}
            and bool(part.get("thought")) == bool(previous.get("thought"))
            and "thoughtSignature" not in previous
        ):
            merged[-1] = {**previous, **part, "text": previous["text"] + part["text"]}
        else:
            merged.append(part)
    return merged


def assemble(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Gemini stream events (or whole hops) -> one GenerateContentResponse."""
    if not events:
        return {}
    answer = dict(events[0])
    parts: list[Any] = []
    candidate: dict[str, Any] | None = None
    for event in events:
        one = _first_candidate(event)
        if one is not None:
            content = one.get("content")
            if isinstance(content, dict) and isinstance(content.get("parts"), list):
                parts.extend(content["parts"])
            candidate = {**(candidate or {}), **{k: v for k, v in one.items() if k != "content"}}
        for name in ("usageMetadata", "promptFeedback", "modelVersion"):
            if name in event:
                answer[name] = event[name]
    if candidate is not None:
        candidate["content"] = {"role": "model", "parts": merge_parts(parts)}
        answer["candidates"] = [candidate]
    return answer
