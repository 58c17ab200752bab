"""multipart/form-data bodies (OpenAI's file uploads), read with the standard library.

Starlette's own form parser needs python-multipart, one more runtime package in the
Lambda zip for one route; a boundary split plus the stdlib header parser does the job.
Bodies are small here (Lambda caps requests at 6 MB; MAX_BYTES otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser

from ..errors import BadRequest

MAX_BYTES = 20 * 1024 * 1024  # Gemini's own limit for a whole inline request


@dataclass
class Field:
    name: str
    data: bytes
    filename: str | None  # None for a plain form field

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def parse(content_type: str, body: bytes) -> list[Field]:
    """The fields of a multipart/form-data body, in order; BadRequest if it is not one.

    The body is split on its boundary with bytes.find (a 6 MB upload takes milliseconds;
    the email parser over the whole body takes a tenth of a second); only each part's
    header block goes through the stdlib header parser."""
    header = BytesHeaderParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    )
    boundary = header.get_param("boundary") if header.get_content_type() == "multipart/form-data" else None
    if not isinstance(boundary, str) or not boundary:
        raise BadRequest("The request body must be multipart/form-data (with a boundary).")
    if len(body) > MAX_BYTES:
        raise BadRequest(f"The request body is larger than {MAX_BYTES // (1024 * 1024)} MB.", status=413)
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = body.find(delimiter)
    end = body.find(b"\r\n" + delimiter + b"--")
    if start < 0 or end < start:
        raise BadRequest("The multipart/form-data body could not be read (boundary not found).")
    fields = []
    for chunk in body[start + len(delimiter) : end].split(b"\r\n" + delimiter):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("The multipart/form-data body could not be read (a part has no header).")
        part = BytesHeaderParser(policy=policy.HTTP).parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name:
            fields.append(Field(name, data, part.get_filename()))
    return fields
