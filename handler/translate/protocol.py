"""One named bundle per client protocol (OpenAI chat, Responses, Anthropic Messages).

Each protocol declares once what it brings to a Gemini generate call: its request
translator (client body -> Gemini request), its whole-answer translator (Gemini answer
-> client body), its stream translator (streaming.Translator), the shape of its errors
and its stream heartbeat. Its endpoints are built from that value (`create`), so what
every translated route does (credentials first, the body read once, files on their
key, one generate call whole or streamed) is written here once, as Mangum registers one
handler per event source.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..affinity import binding as affinity
from ..config import Settings
from ..errors import Shape, UpstreamFailed
from ..keys import session
from ..keys.credentials import Credentials
from ..logs import note
from ..state import settings_of
from .calls import call_json, credentials_of, read_json, upstream_body
from .streaming import UNEXPECTED, TranslatedStream, Translator


class GeminiCall(Protocol):
    """What a protocol's request translator hands back. It may also carry `dropped`
    (a `translate.dropped.Dropped`): what it left out, named in `x-proxy-dropped`."""

    model: str
    payload: dict[str, Any]
    stream: bool


C = TypeVar("C", bound=GeminiCall)
RequestTranslator = Callable[[dict[str, Any], Settings], Awaitable[C]]


@dataclass(frozen=True, slots=True)
class ClientProtocol(Generic[C]):
    """A client protocol on Gemini. `counting` is the request translator for a token
    count (Anthropic's count_tokens: the same translation, without max_tokens)."""

    name: str
    to_gemini: RequestTranslator[C]
    whole: Callable[[C, Any], bytes]
    stream: Callable[[C], Translator]
    shape: Shape
    heartbeat: bytes
    counting: RequestTranslator[C] | None = None

    async def read(self, request: Request, counting: bool = False) -> tuple[Credentials, C]:
        """The caller's credentials (first: a refused caller's body is never read), then
        the body through the request translator."""
        creds = await credentials_of(request)
        translate = self.counting if counting and self.counting is not None else self.to_gemini
        body = await read_json(request)
        call = await translate(body, settings_of(request.scope))
        return replace(creds, session=session.identity(request.headers, body)), call  # sticky sessions

    async def create(self, request: Request) -> Response | TranslatedStream:
        """The protocol's generate endpoint: one Gemini generate call, streamed through
        the stream translator or answered whole through the whole-answer translator."""
        creds, call = await self.read(request)
        dropped = getattr(call, "dropped", ())
        if dropped:
            note(request.scope, dropped=len(dropped))  # the access log counts them
        body, creds = await affinity.for_body(request.scope, creds, upstream_body(call.payload))  # files on their key
        name = quote(call.model, safe="")
        if call.stream:
            path = f"/v1beta/models/{name}:streamGenerateContent?alt=sse"
            return TranslatedStream(
                path, body, creds, call.model, self.stream(call), self.shape, self.heartbeat, dropped
            )
        path = f"/v1beta/models/{name}:generateContent"
        data, headers = await call_json(request, "POST", path, body, creds, call.model, dropped)
        try:
            answer = self.whole(call, data)
        except (AttributeError, TypeError, KeyError, IndexError):
            raise UpstreamFailed(UNEXPECTED, headers=headers) from None
        return Response(answer, headers=headers, media_type="application/json")
