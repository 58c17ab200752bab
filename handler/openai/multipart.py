"""multipart/form-data bodies (OpenAI's file uploads), read with Starlette's own form
parser (python-multipart).

Why not the standard library's email parser per part (the parser until December 2026):
it had no cap on parts and cost 0.3-0.5 ms per part on the event loop, before any key
was checked, so one 2.8 MB body of 30,000 tiny parts held the loop for 14 s (issue 23).
python-multipart is a small pure-Python package (about 100 KB), a streaming parser that
bounds each part's headers, and Starlette puts limits on top: `MAX_FILES` files,
`MAX_FIELDS` plain fields, `MAX_PART_BYTES` per plain field. A body past a limit is
refused as soon as the parser meets it (a 6 MB hostile body takes milliseconds), and the
whole body is at most `MAX_BYTES` (Lambda caps requests at 6 MB anyway). The cost:
once installed, python-multipart is imported by `starlette.requests` at start, about
3 ms of a cold start here (`python -X importtime`); the Lambda zip grows by about 30 KB.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ..errors import BadRequest

MAX_BYTES = 20 * 1024 * 1024  # Gemini's own limit for a whole inline request
MAX_FILES = 16  # the edits route takes up to 14 images and a mask
MAX_FIELDS = 64  # OpenAI's edits form has about 15 fields: room for new ones
MAX_PART_BYTES = 1024 * 1024  # one plain field (a prompt is at most 32,000 characters)


@dataclass
class Field:
    name: str
    data: bytes
    filename: str | None  # None for a plain form field

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class _InMemory(MultiPartParser):
    """Files kept in memory: the body is already there whole, so spooling it to disk
    (Starlette's default past 1 MB, written in a thread) would only copy it again."""

    spool_max_size = MAX_BYTES


async def parse(content_type: str, body: bytes) -> list[Field]:
    """The fields of a multipart/form-data body, in order; BadRequest if it is not one or
    passes a limit (413 for the whole body's size)."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type.lower():
        raise BadRequest("The request body must be multipart/form-data (with a boundary).")
    if len(body) > MAX_BYTES:
        raise BadRequest(f"The request body is larger than {MAX_BYTES // (1024 * 1024)} MB.", status=413)

    async def whole() -> AsyncGenerator[bytes, None]:
        yield body

    parser = _InMemory(
        Headers({"content-type": content_type}),
        whole(),
        max_files=MAX_FILES,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_PART_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"The multipart/form-data body could not be read: {exc.message}") from None
    fields = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            fields.append(Field(name, await value.read(), value.filename or ""))
        elif name:
            fields.append(Field(name, value.encode("utf-8"), None))
    await form.close()
    return fields
