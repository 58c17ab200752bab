"""The one path table: each routed path family, the API it belongs to and its metric name.

Read by the router (routes.py: which prefixes each family is served under), the native
fast path (app.is_native: what under `/v1/` is not Gemini's), the error shape
(errors.shape_for) and the metrics (metrics.route_of: the `Route` dimension). A path no
family claims is Gemini's own (native pass-through, or a 404 in Gemini's shape).

A family matches a path when, after one of its prefixes, the rest is its `name` or
starts with `name + "/"`. `/models/{id}` is the one path both APIs use: with a
`:method` it is Gemini's (`/v1beta/models/m:generateContent`, Roo Code's version-less
`/models/m:...`), without one OpenAI's model lookup.

Plain tuples and a frozenset built once at import: nothing is imported for it, and the
native fast path still does two `startswith` checks and a set lookup.
"""

from __future__ import annotations

from typing import Literal

Api = Literal["native", "openai", "anthropic", "responses", "media", "health"]

# `/hf/v1`: the heavyweight Python peer's prefix, so that configs copied from it work.
OPENAI_PREFIXES = ("", "/v1", "/openai/v1", "/hf/v1")
ANTHROPIC_PREFIXES = ("", "/v1")
# Any other path under these is still the OpenAI API's (its 404s in OpenAI's shape).
OPENAI_ROOTS = ("/openai/", "/hf/")
NATIVE_PREFIXES = ("/v1beta/", "/v1alpha/", "/upload/", "/download/", "/v1/")


class Family:
    """One path family: `name` is the path after a prefix (e.g. "/chat"), `route` the
    metric `Route` dimension's value. A plain class, not a dataclass: building a
    dataclass at import costs a cold start about a millisecond."""

    __slots__ = ("api", "name", "prefixes", "route")

    def __init__(self, name: str, api: Api, route: str, prefixes: tuple[str, ...]) -> None:
        self.name = name
        self.api = api
        self.route = route
        self.prefixes = prefixes


FAMILIES = (
    Family("/chat", "openai", "chat.completions", OPENAI_PREFIXES),
    Family("/embeddings", "openai", "embeddings", OPENAI_PREFIXES),
    Family("/models", "openai", "models", OPENAI_PREFIXES),
    Family("/responses", "responses", "responses", OPENAI_PREFIXES),
    Family("/conversations", "responses", "conversations", OPENAI_PREFIXES),
    Family("/images", "media", "images", OPENAI_PREFIXES),
    Family("/audio", "media", "speech", OPENAI_PREFIXES),
    Family("/messages/count_tokens", "anthropic", "messages.count_tokens", ANTHROPIC_PREFIXES),
    Family("/messages", "anthropic", "messages", ANTHROPIC_PREFIXES),
    Family("/verify", "health", "verify", ("",)),
    Family("/status", "health", "status", ("",)),
)

# What under Gemini's `/v1/` is translated (models aside: it depends on the method).
_UNDER_V1 = [f"/v1{f.name}" for f in FAMILIES if "/v1" in f.prefixes and f.name != "/models"]
TRANSLATED_UNDER_V1 = tuple(p + "/" for p in _UNDER_V1)
TRANSLATED_V1_EXACT = frozenset(_UNDER_V1)


def family_of(path: str) -> Family | None:
    """The family serving `path`, or None for Gemini's own paths."""
    for family in FAMILIES:
        name = family.name
        for prefix in family.prefixes:
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                if rest == name or rest.startswith(name + "/"):
                    return None if name == "/models" and ":" in rest else family
    return None


def api_of(path: str) -> Api:
    """The API a path belongs to (for its error shape, 404 and 405 included)."""
    family = family_of(path)
    if family is not None:
        return family.api
    return "openai" if path.startswith(OPENAI_ROOTS) else "native"
