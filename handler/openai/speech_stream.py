"""A streamed /audio/speech answer: Gemini's streamed PCM sent on as it arrives.

- `stream_format: "audio"` (and pcm or wav without a stream_format): the audio body,
  chunked: pcm as Gemini sends it, wav behind a header whose sizes say "unknown", mp3
  as LAME completes its frames.
- `stream_format: "sse"`: OpenAI's events, `data: {"type": "speech.audio.delta",
  "audio": <base64 of the encoded bytes>}` per upstream chunk, then `data: {"type":
  "speech.audio.done", "usage": {...}}`; heartbeats (SSE comments) while Gemini is quiet.
- The pieces of a long input (speech_request.split) are called in order, the next one
  asked for while the current one plays, and their samples go into one encoder: one
  continuous file.
- The answer commits (200) when Gemini's first call answers 200 (or, for SSE, when
  HEARTBEAT_SECONDS pass first: heartbeats start): until then failover and Gemini's own
  error statuses apply, in OpenAI's error shape (decision 11). A model
  whose shape is not known and that refuses the current shape's fields is called again
  in the legacy shape (speech_request.py). After the commit, a failure ends the SSE
  stream with an `error` event; an audio body is cut off without its last chunk, so
  that the client sees a broken transfer rather than a short file that looks whole.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ..disconnect import relay
from ..errors import ProxyError, UpstreamFailed, body_for, render
from ..keys.credentials import Credentials
from ..keys.failover import Outcome, failure, note_outcome
from ..keys.masking import mask_text
from ..logs import note
from ..sse import COMMENT_HEARTBEAT, EventParser, frame
from ..state import settings_of
from ..translate import calls
from ..upstream import UpstreamError, UpstreamResponse
from . import audio, speech_request
from .speech import audio_of, bodies, path_of, usage_of
from .speech_request import Shape, SpeechRequest


def _settle(task: asyncio.Future[Any] | None) -> None:
    """Cancel an upstream call still running; close the answer of one that came and was not used."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled() and task.exception() is None:
        result = task.result()
        outcome = result[2] if len(result) == 4 else result[0]
        if outcome.response is not None:
            outcome.response.close()


class StreamCut(Exception):
    """A failure after an audio body started: the transfer ends without its last chunk."""


class SpeechStream:
    def __init__(self, request: Request, call: SpeechRequest, creds: Credentials, shape: Shape | None) -> None:
        self.request = request
        self.call = call
        self.creds = creds
        self.shape = shape
        self.sse = call.stream == "sse"
        self.beat = settings_of(request.scope).heartbeat_seconds
        self.encoder: audio.StreamEncoder | None = None
        self.tokens = [0, 0]
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await relay(scope, receive, lambda: self._pump(scope, receive, send))

    async def _open(self, body: bytes, creds: Credentials) -> tuple[Outcome, dict[str, str]]:
        path = path_of(self.call.model, streamed=True)
        outcome = await calls.call(self.request, "POST", path, body, creds, self.call.model)
        return outcome, note_outcome(self.request.scope, outcome)

    async def _first(self) -> tuple[list[bytes], Credentials, Outcome, dict[str, str]]:
        """The bodies and the first piece's answer, the legacy shape tried when the model's
        shape is unknown and Gemini refuses the current one."""
        shape = self.shape or "current"
        posts, creds = await bodies(self.request, self.call, self.creds, shape)
        outcome, headers = await self._open(posts[0], creds)
        refused = not outcome.ok and outcome.status == 400 and speech_request.refused_current_shape(outcome.text())
        if self.shape is None and refused:
            speech_request.learn_legacy(self.call.model)
            posts, creds = await bodies(self.request, self.call, self.creds, "legacy")
            outcome, headers = await self._open(posts[0], creds)
        return posts, creds, outcome, headers

    async def _pump(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = asyncio.ensure_future(self._first())
        following: asyncio.Future[tuple[Outcome, dict[str, str]]] | None = None
        try:
            # SSE heartbeats while Gemini has not answered yet (decision 11); an audio
            # body has no way to say "wait", so it waits for the answer.
            while not (await asyncio.wait((first,), timeout=self.beat if self.sse else None))[0]:
                if not self.started:
                    await self._commit(send, {})
                await send({"type": "http.response.body", "body": COMMENT_HEARTBEAT, "more_body": True})
            try:
                posts, creds, outcome, headers = first.result()
            except ProxyError as exc:
                await self._fail_or_render(scope, receive, send, exc)
                return
            for index in range(len(posts)):
                if following is not None:
                    outcome, headers = await following
                    following = None
                problem = None if outcome.ok else failure(outcome, headers)
                if problem is None and "event-stream" not in outcome.response.content_type:  # type: ignore[union-attr]
                    problem = UpstreamFailed(calls.UNEXPECTED, headers=headers)
                if problem is not None:
                    if outcome.response is not None:
                        outcome.response.close()
                    await self._fail_or_render(scope, receive, send, problem)
                    return
                if not self.started:
                    await self._commit(send, headers)
                if index + 1 < len(posts):  # the next piece is asked for while this one plays
                    following = asyncio.ensure_future(self._open(posts[index + 1], creds))
                assert outcome.response is not None
                try:
                    await self._relay_piece(outcome.response, send, scope)
                except ProxyError as exc:
                    await self._fail(send, exc)
                    return
                finally:
                    outcome.response.close()
        finally:
            for task in (first, following):
                _settle(task)
        tail = self.encoder.end() if self.encoder else b""
        last = self._wrap(tail)
        if self.sse:
            prompt, answer = self.tokens
            usage = {"input_tokens": prompt, "output_tokens": answer, "total_tokens": prompt + answer}
            last += frame({"type": "speech.audio.done", "usage": usage})
        await send({"type": "http.response.body", "body": last})

    async def _fail_or_render(self, scope: Scope, receive: Receive, send: Send, exc: ProxyError) -> None:
        if self.started:
            await self._fail(send, exc)
        else:
            await render("openai", exc)(scope, receive, send)

    async def _commit(self, send: Send, headers: dict[str, str]) -> None:
        media = b"text/event-stream; charset=utf-8" if self.sse else audio.CONTENT_TYPES[self.call.fmt].encode()
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        start = [(b"content-type", media), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        await send({"type": "http.response.start", "status": 200, "headers": start + extra})
        self.started = True

    def _wrap(self, encoded: bytes) -> bytes:
        if not encoded or not self.sse:
            return encoded
        return frame({"type": "speech.audio.delta", "audio": base64.b64encode(encoded).decode("ascii")})

    def _encode(self, data: object) -> bytes:
        try:
            found = audio_of(data)
            if found is None:
                return b""
            pcm, rate = found
            if self.encoder is None:
                self.encoder = audio.stream_encoder(self.call.fmt, rate)
            elif getattr(self.encoder, "rate", rate) != rate:
                raise audio.BadAudio("Gemini changed the sample rate within the speech.")
            return self._wrap(self.encoder.feed(pcm))
        except audio.BadAudio as exc:
            raise UpstreamFailed(str(exc)) from None
        except (AttributeError, TypeError, KeyError):
            raise UpstreamFailed(calls.UNEXPECTED) from None

    async def _relay_piece(self, response: UpstreamResponse, send: Send, scope: Scope) -> None:
        """Send one piece's audio as each upstream event arrives."""
        parser = EventParser()
        tokens = [0, 0]  # each event carries the piece's running totals
        while True:
            try:
                chunk = await response.next_chunk(self.beat)
            except UpstreamError as exc:
                raise ProxyError(exc.message, status=exc.status) from None
            if chunk is None:
                if self.sse:
                    await send({"type": "http.response.body", "body": COMMENT_HEARTBEAT, "more_body": True})
                continue
            out = []
            for payload in parser.feed(chunk) if chunk else parser.close():
                try:
                    data = json.loads(payload)
                except (ValueError, RecursionError):
                    raise UpstreamFailed(calls.UNEXPECTED) from None
                if isinstance(data, dict) and "error" in data:
                    error = data["error"] if isinstance(data["error"], dict) else {}
                    message = str(error.get("message") or "The Gemini API failed mid-stream.")
                    raise UpstreamFailed(mask_text(message, self.creds.keys))
                tokens = [max(pair) for pair in zip(tokens, usage_of(data), strict=True)]
                out.append(self._encode(data))
            if out and any(out):
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
            if not chunk:
                self.tokens = [mine + theirs for mine, theirs in zip(self.tokens, tokens, strict=True)]
                return

    async def _fail(self, send: Send, exc: ProxyError) -> None:
        note(self.request.scope, stream_error=exc.status)
        if not self.sse:
            raise StreamCut(exc.message)
        await send({"type": "http.response.body", "body": frame({"type": "error", **body_for("openai", exc)})})
