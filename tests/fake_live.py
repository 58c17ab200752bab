"""The fake's Live API ephemeral tokens: `POST /v1alpha/auth_tokens` as Google answers it.

Like the real API: only under v1alpha, only with a key, only the fields an AuthToken
has (anything else is 400 "Unknown name"); the answer is `{"name": "auth_tokens/..."}`
plus the fields it was given, and the token is an opaque string with no trace of the
key that minted it. `minted` keeps which key minted each token and its constraints, so
tests can check the project a browser's session would land on.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .fake_rules import unknown_name

if TYPE_CHECKING:
    from .fake_gemini import FakeGemini

AUTH_TOKEN_FIELDS = frozenset({"expireTime", "newSessionExpireTime", "uses", "bidiGenerateContentSetup", "fieldMask"})


class Live:
    def __init__(self, fake: FakeGemini) -> None:
        self.fake = fake
        self.minted: dict[str, tuple[str, dict[str, Any]]] = {}  # token -> (key, the request body)

    def reset(self) -> None:
        self.minted.clear()

    def routes(self) -> list[Route]:
        return [Route("/{version:str}/auth_tokens", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        from .fake_gemini import error_body

        item = await self.fake._record(request)
        if (denied := await self.fake._check_key(item)) is not None:
            return denied
        if request.path_params["version"] != "v1alpha":
            return JSONResponse(error_body(404, "NOT_FOUND", "Method not found."), 404)
        try:
            body = json.loads(item.body or b"{}")
        except ValueError:
            return JSONResponse(error_body(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), 400)
        for name in body:
            if name not in AUTH_TOKEN_FIELDS:
                return JSONResponse(error_body(400, "INVALID_ARGUMENT", unknown_name(name, "")), 400)
        token = "auth_tokens/" + secrets.token_hex(24)
        assert item.key is not None
        self.minted[token] = (item.key, body)
        return JSONResponse({"name": token, **body})
