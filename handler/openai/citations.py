"""Gemini's grounding (Google Search sources) -> OpenAI `url_citation` annotations.

A candidate grounded by search carries `groundingMetadata`: `groundingChunks[i].web`
(`uri`, `title`) are the sources, and each `groundingSupports[j]` ties a `segment` of
the answer to some of them (`groundingChunkIndices`). Each (segment, source) pair
becomes one annotation with the segment's `start_index` / `end_index`; a source that no
segment cites becomes one without indexes (the issue asks for indexes only where
Gemini gives segments).

Gemini measures a segment in UTF-8 bytes from the start of the part `partIndex`
(JSON leaves out zeros, so a missing index is 0); OpenAI measures characters of the
message content. A streamed answer's offsets are taken from the start of the whole
answer text, as Gemini resends the metadata for the text so far. When the bytes at
those offsets are not the segment's own `text`, the text is looked up in the answer
instead, and a segment that cannot be placed gets no indexes.
"""

from __future__ import annotations

from typing import Any


def url_citations(meta: Any, text: str, bases: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """The annotations for `meta` (a groundingMetadata) over the answer `text`.
    `bases` maps a part index to the byte offset where that part starts in `text`
    (None: offsets count from the start of `text`)."""
    if not isinstance(meta, dict):
        return []
    sources = [_source(chunk) for chunk in _listed(meta.get("groundingChunks"))]
    encoded = text.encode()
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    cited: set[int] = set()

    def add(source: tuple[str, str], span: tuple[int, int] | None) -> None:
        if (source, span) in seen:
            return
        seen.add((source, span))
        citation: dict[str, Any] = {"url": source[0], "title": source[1]}
        if span is not None:
            citation["start_index"], citation["end_index"] = span
        out.append({"type": "url_citation", "url_citation": citation})

    for support in _listed(meta.get("groundingSupports")):
        if not isinstance(support, dict):
            continue
        span = _span(support.get("segment"), text, encoded, bases)
        for i in _listed(support.get("groundingChunkIndices")):
            source = sources[i] if isinstance(i, int) and 0 <= i < len(sources) else None
            if source is not None:
                cited.add(i)
                add(source, span)
    for i, source in enumerate(sources):
        if source is not None and i not in cited:
            add(source, None)
    return out


def _listed(value: Any) -> list[Any]:
    """A list field of the metadata, or nothing if Gemini sent something else."""
    return value if isinstance(value, list) else []


def _source(chunk: Any) -> tuple[str, str] | None:
    web = chunk.get("web") if isinstance(chunk, dict) else None
    uri = web.get("uri") if isinstance(web, dict) else None
    if not isinstance(web, dict) or not isinstance(uri, str) or not uri:
        return None
    title = web.get("title")
    return uri, title if isinstance(title, str) else ""


def _span(segment: Any, text: str, encoded: bytes, bases: dict[int, int] | None) -> tuple[int, int] | None:
    """A segment's (start, end) in characters of `text`, or None if it cannot be placed."""
    if not isinstance(segment, dict):
        return None
    start, end, part = segment.get("startIndex", 0), segment.get("endIndex"), segment.get("partIndex", 0)
    wanted = segment.get("text")
    base = (bases or {}).get(part, 0) if isinstance(part, int) else 0
    placed = None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end and base + end <= len(encoded):
        placed = (base + start, base + end)
        if not isinstance(wanted, str) or encoded[placed[0] : placed[1]].decode(errors="ignore") == wanted:
            return _chars(encoded, placed[0]), _chars(encoded, placed[1])
    if isinstance(wanted, str) and wanted and (at := text.find(wanted)) >= 0:
        return at, at + len(wanted)
    return (_chars(encoded, placed[0]), _chars(encoded, placed[1])) if placed else None


def _chars(encoded: bytes, offset: int) -> int:
    """The character index of a byte offset (inside a character: the one it is in)."""
    return len(encoded[:offset].decode(errors="ignore"))
