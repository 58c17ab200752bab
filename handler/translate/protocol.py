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

from starlette.requests import Request
from starlette.responses import Response

from ..catalog import families
from ..config import Settings
from ..errors import Shape, UpstreamFailed
from ..keys import session
from ..keys.credentials import Credentials
from ..logs import note
from ..state import settings_of
from . import media
from .attempt import Attempt
from .calls import credentials_of, read_json, sender, whole_answer
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
        the body through the request translator, families resolved (catalog.families)."""
        creds, call, _ = await self._read(request, counting)
        return creds, call

    async def _read(self, request: Request, counting: bool) -> tuple[Credentials, C, Attempt]:
        scope = request.scope
        creds = await credentials_of(request)
        translate = self.counting if counting and self.counting is not None else self.to_gemini
        body = await read_json(request)
        settings = settings_of(scope)
        resolution = families.resolution_for(scope, creds)

        def afresh() -> Awaitable[C]:  # a translation from the start: the media budget too
            media.start_request()
            return translate(body, settings)

        call = await families.translate(scope, resolution, creds, afresh)
        creds = replace(creds, session=session.identity(request.headers, body))  # sticky sessions
        attempt = Attempt(scope, creds, call, sender(request), afresh, resolution)
        return creds, call, attempt

    async def create(self, request: Request) -> Response | TranslatedStream:
        """The protocol's generate endpoint: one Gemini generate call (through an
        `Attempt`: refused fields dropped, a family's next model, long-decode hops),
        streamed through the stream translator or answered whole through the
        whole-answer translator."""
        _, call, attempt = await self._read(request, counting=False)
        dropped = getattr(call, "dropped", ())
        if dropped:
            note(request.scope, dropped=len(dropped))  # the access log counts them
        if call.stream:
            return TranslatedStream(attempt, self.stream(attempt.call), self.shape, self.heartbeat)
        data, headers = await whole_answer(request, attempt)
        try:
            answer = self.whole(attempt.call, data)
        except (AttributeError, TypeError, KeyError, IndexError):
            raise UpstreamFailed(UNEXPECTED, headers=headers) from None
        return Response(answer, headers=headers, media_type="application/json")
