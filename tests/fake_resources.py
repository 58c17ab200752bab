"""The fake Gemini's per-project resources: each key is its own Google Cloud project.

Files (resumable uploads), cached contents, batches and interactions belong to the key
that created them; asked for with another key they get the answers Google gives for
another project's resource: 403 PERMISSION_DENIED for files and cached contents, 404
NOT_FOUND for batches and interactions. A resumable upload's later steps need no key
(the upload_id authorises them) but are refused with another project's key. Generate
calls that name a file (`fileData.fileUri`) or a cached content of another project are
refused the same way (`check_refs`; a name no project has passes there, as other tests
name made-up files). Mounted by fake_gemini.FakeGemini.app().
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REF = re.compile(r"(?<![A-Za-z0-9_-])(files|cachedContents)/([A-Za-z0-9_-]+)")
ID_OK = re.compile(r"[a-z0-9][a-z0-9-]{0,38}[a-z0-9]|[a-z0-9]")
DENIED = {
    "files": (403, "PERMISSION_DENIED", "You do not have permission to access the File {id} or it may not exist."),
    "cachedContents": (403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)"),
    "batches": (404, "NOT_FOUND", "Requested entity was not found."),
    "interactions": (404, "NOT_FOUND", "Interaction {id} not found."),
}


def error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


@dataclass
class Projects:
    fake: Any  # the FakeGemini: its request log and key behaviours
    store: dict[str, dict[str, tuple[str, dict]]] = field(default_factory=dict)  # kind -> id -> (key, resource)
    uploads: dict[str, dict] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))  # ids unique all session long
    upload_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.store.clear()
        self.uploads.clear()
        self.upload_ids = itertools.count(1)

    def routes(self) -> list[Route]:
        v = "/{version:str}"
        return [
            Route("/upload/{version:str}/files", self.upload, methods=["POST", "PUT"]),
            Route(f"{v}/files", self.list_of("files"), methods=["GET"]),
            Route(f"{v}/files/{{id:str}}", self.item("files"), methods=["GET", "DELETE"]),
            Route(f"/download{v}/files/{{id:str}}", self.download, methods=["GET"]),
            Route(f"{v}/cachedContents", self.create_cache, methods=["POST"]),
            Route(f"{v}/cachedContents", self.list_of("cachedContents"), methods=["GET"]),
            Route(f"{v}/cachedContents/{{id:str}}", self.item("cachedContents"), methods=["GET", "PATCH", "DELETE"]),
            Route(f"{v}/models/{{model:str}}:batchGenerateContent", self.create_batch, methods=["POST"]),
            Route(f"{v}/batches/{{id:str}}", self.item("batches"), methods=["GET", "DELETE"]),
            Route(f"{v}/interactions", self.create_interaction, methods=["POST"]),
            Route(f"{v}/interactions/{{id:str}}", self.interaction, methods=["GET", "DELETE"]),
            Route(f"{v}/interactions/{{id:str}}/cancel", self.interaction, methods=["POST"]),
        ]

    # Helpers ---------------------------------------------------------------------------

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self.counter)}x{id(self) % 997}"

    def owned(self, kind: str, ident: str, key: str | None) -> tuple[dict | None, Response | None]:
        found = self.store.get(kind, {}).get(ident)
        if found is None or found[0] != key:
            code, status, message = DENIED[kind]
            return None, error(code, status, message.format(id=ident))
        return found[1], None

    def put(self, kind: str, ident: str, key: str, resource: dict) -> dict:
        self.store.setdefault(kind, {})[ident] = (key, resource)
        return resource

    async def admit(self, request: Request):
        """Record the request; its key's behaviour (fake_gemini) may refuse it."""
        item = await self.fake._record(request)
        return item, await self.fake._check_key(item)

    def check_refs(self, key: str | None, body: bytes) -> Response | None:
        """A file or cached content named in a request must not be another project's (names
        that no project has pass: other tests name made-up files)."""
        for kind, ident in REF.findall(body.decode("utf-8", "replace")):
            found = self.store.get(kind, {}).get(ident)
            if found is not None and found[0] != key:
                return self.owned(kind, ident, key)[1]
        return None

    # Files ------------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        item = await self.fake._record(request)
        upload_id = request.query_params.get("upload_id")
        if upload_id:
            return self._continue(item, upload_id)
        if (denied := await self.fake._check_key(item)) is not None:
            return denied
        meta = (item.json or {}).get("file") or {}
        name = meta.get("name") or f"files/{self.new_id('f')}"
        ident = name.removeprefix("files/")
        if not ID_OK.fullmatch(ident):
            return error(400, "INVALID_ARGUMENT", f"Invalid file name {name}.")
        if any(ident in kind for kind in (self.store.get("files", {}), {u["id"] for u in self.uploads.values()})):
            return error(409, "ALREADY_EXISTS", f"File {name} already exists.")
        upload_id = f"UP{next(self.upload_ids)}"
        self.uploads[upload_id] = {"key": item.key, "id": ident, "meta": meta, "data": bytearray()}
        base = str(request.base_url).rstrip("/")
        url = f"{base}/upload/{request.path_params['version']}/files?upload_id={upload_id}&upload_protocol=resumable"
        return Response(b"", headers={"x-goog-upload-url": url, "x-goog-upload-status": "active"})

    def _continue(self, item, upload_id: str) -> Response:
        session = self.uploads.get(upload_id)
        if session is None:
            return error(404, "NOT_FOUND", "Upload session not found.")
        if item.key and item.key != session["key"]:
            return error(403, "PERMISSION_DENIED", "The upload session belongs to another project.")
        session["data"] += item.body
        if "finalize" not in item.headers.get("x-goog-upload-command", ""):
            return Response(b"", headers={"x-goog-upload-status": "active"})
        ident = session["id"]
        file = self.file(ident, session["key"], len(session["data"]), session["meta"])
        del self.uploads[upload_id]
        return JSONResponse({"file": file}, headers={"x-goog-upload-status": "final"})

    def file(self, ident: str, key: str, size: int, meta: dict | None = None) -> dict:
        meta = meta or {}
        return self.put(
            "files",
            ident,
            key,
            {
                "name": f"files/{ident}",
                "displayName": meta.get("display_name") or meta.get("displayName") or ident,
                "mimeType": meta.get("mime_type") or meta.get("mimeType") or "text/plain",
                "sizeBytes": str(size),
                "createTime": "2026-12-01T00:00:00.000000Z",
                "updateTime": "2026-12-01T00:00:00.000000Z",
                "expirationTime": "2026-12-03T00:00:00.000000Z",
                "sha256Hash": "ZmFrZQ==",
                "uri": f"https://generativelanguage.googleapis.com/v1beta/files/{ident}",
                "state": "ACTIVE",
                "source": "UPLOADED",
            },
        )

    async def download(self, request: Request) -> Response:
        item, denied = await self.admit(request)
        if denied is not None:
            return denied
        ident = request.path_params["id"].removesuffix(":download")
        _, denied = self.owned("files", ident, item.key)
        body = b'{"key": "1", "response": {"candidates": []}}\n'  # a batch's answers: JSON lines
        return denied or Response(body, media_type="application/octet-stream")

    # Generic list, get, patch, delete -----------------------------------------------------

    def list_of(self, kind: str) -> Callable:
        async def handler(request: Request) -> Response:
            item, denied = await self.admit(request)
            if denied is not None:
                return denied
            mine = [res for key, res in self.store.get(kind, {}).values() if key == item.key]
            start = int(request.query_params.get("pageToken") or 0)
            size = int(request.query_params.get("pageSize") or 100)
            page: dict[str, Any] = {kind: mine[start : start + size]} if mine[start : start + size] else {}
            if start + size < len(mine):
                page["nextPageToken"] = str(start + size)
            return JSONResponse(page)

        return handler

    def item(self, kind: str) -> Callable:
        async def handler(request: Request) -> Response:
            item, denied = await self.admit(request)
            if denied is not None:
                return denied
            ident = request.path_params["id"].split(":")[0]
            resource, denied = self.owned(kind, ident, item.key)
            if denied is not None:
                return denied
            if request.method == "DELETE":
                del self.store[kind][ident]
                return JSONResponse({})
            if request.method == "PATCH":
                resource.update(item.json or {})
            if kind == "batches":
                return JSONResponse(self.batch_done(ident, item.key))
            return JSONResponse(resource)

        return handler

    # Cached contents and batches ------------------------------------------------------------

    async def create_cache(self, request: Request) -> Response:
        item, denied = await self.admit(request)
        if denied is not None or (denied := self.check_refs(item.key, item.body)) is not None:
            return denied
        ident = self.new_id("c")
        body = item.json or {}
        cache = {
            "name": f"cachedContents/{ident}",
            "model": body.get("model"),
            "displayName": body.get("displayName", ""),
            "usageMetadata": {"totalTokenCount": 4096},
            "expireTime": "2026-12-03T00:00:00Z",
        }
        return JSONResponse(self.put("cachedContents", ident, item.key, cache))

    async def create_batch(self, request: Request) -> Response:
        item, denied = await self.admit(request)
        if denied is not None or (denied := self.check_refs(item.key, item.body)) is not None:
            return denied
        ident = self.new_id("b")
        meta = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": f"models/{request.path_params['model']}",
            "name": f"batches/{ident}",
            "state": "BATCH_STATE_PENDING",
        }
        self.put("batches", ident, item.key, {"name": f"batches/{ident}", "metadata": meta})
        return JSONResponse({"name": f"batches/{ident}", "metadata": meta})

    def batch_done(self, ident: str, key: str) -> dict:
        """A batch is done when asked about: its answers are a file of its project."""
        self.file(f"batch-{ident}", key, 42)
        meta = {
            **self.store["batches"][ident][1]["metadata"],
            "state": "BATCH_STATE_SUCCEEDED",
            "output": {"responsesFile": f"files/batch-{ident}"},
        }
        return {
            "name": f"batches/{ident}",
            "metadata": meta,
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
                "responsesFile": f"files/batch-{ident}",
            },
        }

    # Interactions -------------------------------------------------------------------------------

    async def create_interaction(self, request: Request) -> Response:
        item, denied = await self.admit(request)
        if denied is not None or (denied := self.check_refs(item.key, item.body)) is not None:
            return denied
        body = item.json or {}
        previous = body.get("previous_interaction_id")
        history: list[str] = []
        if previous is not None:
            found, denied = self.owned("interactions", previous, item.key)
            if denied is not None:
                return denied
            history = found["history"]
        text = body.get("input") if isinstance(body.get("input"), str) else json.dumps(body.get("input"))
        ident = f"v1_Ch{self.new_id('Zx')}"
        state = {"history": [*history, text], "polls": 0, "background": bool(body.get("background"))}
        self.put("interactions", ident, item.key, state)
        interaction = self.interaction_of(ident, body.get("model"), previous, state)
        if body.get("stream"):
            return StreamingResponse(self.events(interaction), media_type="text/event-stream")
        return JSONResponse(interaction)

    def interaction_of(self, ident: str, model: str | None, previous: str | None, state: dict) -> dict:
        done = not state["background"] or state["polls"] > 1
        answer = f"turn {len(state['history'])}: " + " | ".join(state["history"])
        out: dict[str, Any] = {
            "id": ident,
            "object": "interaction",
            "model": model or "gemini-2.5-flash",
            "status": "completed" if done else "in_progress",
            "created": "2026-12-01T00:00:00Z",
            "updated": "2026-12-01T00:00:00Z",
        }
        state["model"], state["previous"] = out["model"], previous
        if previous:
            out["previous_interaction_id"] = previous
        if done:
            out["steps"] = [{"type": "model_output", "content": [{"type": "text", "text": answer}]}]
            out["usage"] = {"total_input_tokens": 5, "total_output_tokens": 3, "total_tokens": 8}
        return out

    async def events(self, interaction: dict):
        text = interaction.get("steps", [{}])[0].get("content", [{}])[0].get("text", "")
        pieces = [
            {"event_type": "interaction.created", "interaction": {"id": interaction["id"], "status": "in_progress"}},
            {"event_type": "interaction.status_update", "interaction_id": interaction["id"], "status": "in_progress"},
            *(
                {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": word}}
                for word in text.split(" ")
            ),
            {"event_type": "interaction.completed", "interaction": interaction},
        ]
        for i, event in enumerate(pieces):
            if i and self.fake.stream_delay:
                await asyncio.sleep(self.fake.stream_delay)
            self.fake.event_times.append(time.monotonic())
            yield f"event: {event['event_type']}\ndata: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    async def interaction(self, request: Request) -> Response:
        item, denied = await self.admit(request)
        if denied is not None:
            return denied
        ident = request.path_params["id"]
        state, denied = self.owned("interactions", ident, item.key)
        if denied is not None:
            return denied
        if request.method == "DELETE":
            del self.store["interactions"][ident]
            return JSONResponse({})
        state["polls"] += 1
        interaction = self.interaction_of(ident, state.get("model"), state.get("previous"), state)
        if request.url.path.endswith("/cancel"):
            interaction["status"] = "cancelled"
        if request.query_params.get("stream") == "true":
            return StreamingResponse(self.events(interaction), media_type="text/event-stream")
        return JSONResponse(interaction)
