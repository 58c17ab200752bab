"""POST|GET /verify: check each key and stream one result per key.

STUB: to be written (see the keys issue).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import gemini_error


async def verify(request: Request) -> Response:
    return gemini_error(501, "Key checks are not implemented yet.")


routes: list[BaseRoute] = [Route("/verify", verify, methods=["GET", "POST"])]
