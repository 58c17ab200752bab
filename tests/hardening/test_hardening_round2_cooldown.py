"""Cooldowns, second round (issue 23): a 403 about another project's resource says
nothing about the key (no cooldown, on any model), and /status shows a key's cooldown
only to that key, not to a made-up key with the same mask."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from handler.keys.masking import mask

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN
from ..servers import ServerThread

MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
DENIED = {
    "error": {
        "code": 403,
        "message": "You do not have permission to access the File unknown.name or it may not exist.",
        "status": "PERMISSION_DENIED",
    }
}


async def generate(request: Request) -> JSONResponse:
    """Gemini's answer to a file of another project (no ErrorInfo reason: not about the key)."""
    body = await request.body()
    if b"files/" in body:
        return JSONResponse(DENIED, 403)
    return JSONResponse({"candidates": [{"content": {"parts": [{"text": "ok"}], "role": "model"}}]})


@pytest.fixture(scope="module")
def denying():
    server = ServerThread(Starlette(routes=[Route("/v1beta/models/{call:path}", generate, methods=["POST"])])).start()
    yield server.url
    server.stop()


def test_a_403_for_another_projects_resource_cools_no_key(start_proxy, cooldown_for, denying):
    url = start_proxy(GEMINI_BASE_URL=denying, GEMINI_API_KEYS=f"{KEY_A},{KEY_B},{KEY_C}", ACCESS_TOKENS=TOKEN)
    memory = cooldown_for(url)
    # A name the affinity does not recognise (a dot in the id): the call fails over, unbound.
    part = {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/unknown.name"}}
    r = httpx.post(
        url + GENERATE,
        headers={"authorization": f"Bearer {TOKEN}"},
        json={"contents": [{"parts": [part, {"text": "describe"}]}]},
    )
    assert r.status_code == 403
    assert memory.snapshot() == []  # no key cooled, for this model or any other
    assert all(memory.until(key, "gemini-2.5-pro") == 0 for key in (KEY_A, KEY_B, KEY_C))
    r = httpx.post(url + GENERATE, headers={"authorization": f"Bearer {TOKEN}"}, json={"contents": []})
    assert r.status_code == 200 and r.headers["x-proxy-attempts"] == "1"


def test_a_key_level_403_still_cools(start_proxy, cooldown_for, fake):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN)
    memory = cooldown_for(url)
    fake.keys[KEY_A] = "forbidden"  # a suspended project: about the key
    r = httpx.post(url + GENERATE, headers={"authorization": f"Bearer {TOKEN}"}, json={"contents": []})
    assert r.status_code == 403
    assert memory.until(KEY_A, MODEL) > 0 and memory.until(KEY_A, "gemini-2.5-pro") > 0


def test_status_shows_a_cooldown_only_to_the_key_itself(proxy, cooldown):
    twin = KEY_A[:6] + "x" * (len(KEY_A) - 10) + KEY_A[-4:]  # made up: same first 6 and last 4
    assert twin != KEY_A and mask(twin) == mask(KEY_A)
    cooldown.cool(KEY_A, 600, None, "permission_denied", owned=True)
    seen = httpx.get(proxy + "/status/data", headers={"x-goog-api-key": twin}).json()
    assert seen["keys"] == [mask(KEY_A)] and seen["cooldowns"] == []
    own = httpx.get(proxy + "/status/data", headers={"x-goog-api-key": KEY_A}).json()
    assert [c["reason"] for c in own["cooldowns"]] == ["permission_denied"]
    assert KEY_A not in json.dumps(own)
