"""Embedded Metric Format (EMF): the access-log line of each proxied request is also a metric record.

CloudWatch Logs turns a JSON log line that holds an `_aws` member into CloudWatch
metrics by itself (no API call, no extra request cost, every container counted), so the
proxy keeps no counters of its own: it adds the record to the access-log line it
already writes (see `logs.AccessLog`). Off AWS the line stays a plain JSON line.

A request is "proxied" when it got as far as choosing a Gemini key (the route noted an
upstream outcome: `attempts` is in the line); `/verify`, `/status`, refusals (401) and
bad input answered before any upstream call add no record.

Metrics (namespace `METRICS_NAMESPACE`, default `GeminiEdgeProxy`): `Requests` (1),
`Latency` (milliseconds, the whole request, a stream to its end), `Attempts` (keys
tried), and the upstream status class as counts: `Upstream2xx`, `Upstream4xx` (not 429),
`Upstream429`, `Upstream5xx` (including no answer: 502/504 from the proxy).

Dimensions: `Key` (the masked key that served, `keys.mask`: never a full key),
`Model` (the Gemini model of the upstream path) and `Route` (the kind of call, from a
fixed list). Each is its own dimension set, so figures add up per key, per model and
per route; every combination stays in the log line for Logs Insights. Cost guard: each
distinct dimension value is a custom metric that CloudWatch bills, so values a caller
could invent do not become one: the route is from a fixed list (the path table's names,
Gemini's methods and collections, else `other`), and when Gemini refused the request
itself (400, 401, 404: a made-up key or model) the key and the model are recorded as `-`.
"""

from __future__ import annotations

import functools
import json
import re
import time
from typing import Any

from starlette.types import Scope

from .paths import family_of

NAMESPACE = "GeminiEdgeProxy"
DIMENSIONS = ("Key", "Model", "Route")
DIMENSION_SETS = [["Key"], ["Model"], ["Route"]]
STATUS_COUNTS = ("Upstream2xx", "Upstream4xx", "Upstream429", "Upstream5xx")
COUNTS = ("Requests", "Attempts", *STATUS_COUNTS)
METRICS = [{"Name": name, "Unit": "Count"} for name in COUNTS] + [{"Name": "Latency", "Unit": "Milliseconds"}]
UNKNOWN = "-"
REFUSED = frozenset({400, 401, 404})  # the request (its key or model) was not Gemini's to serve

# Gemini's methods (after `:`) and collections: anything else is `other`.
ACTIONS = frozenset(
    {
        "generateContent",
        "streamGenerateContent",
        "countTokens",
        "embedContent",
        "batchEmbedContents",
        "batchGenerateContent",
        "asyncBatchEmbedContent",
        "predict",
        "predictLongRunning",
        "generateAnswer",
        "cancel",
        "download",
    }
)
COLLECTIONS = frozenset(
    {"models", "tunedModels", "files", "cachedContents", "batches", "operations", "corpora", "fileSearchStores"}
)
_MODEL_PATH = re.compile(r"/(?:v1beta|v1|v1alpha)/(?:models|tunedModels)/([A-Za-z0-9][A-Za-z0-9._-]{0,79})(?=[:/?]|$)")
_VERSIONS = ("v1beta", "v1", "v1alpha")


def model_of(path: str) -> str:
    """The Gemini model named by an upstream path (`/v1beta/models/X:generateContent` -> X), or ''."""
    match = _MODEL_PATH.match(path)
    return match.group(1) if match else ""


@functools.lru_cache(maxsize=512)  # a few paths carry nearly all calls
def route_of(path: str) -> str:
    """A short name for the kind of call, from a fixed list (a dimension value must not be
    made up): the path table's name for a routed path (paths.py), else Gemini's method or
    collection."""
    family = family_of(path)
    if family is not None:
        return family.route
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "gemini":  # the /gemini/v1beta/... alias
        parts = parts[1:]
    if parts and parts[0] == "models":  # version-less /models/m:method (Roo Code)
        parts = ["v1beta", *parts]
    if parts and parts[0] == "upload":
        return "upload"
    if len(parts) < 2 or parts[0] not in _VERSIONS:
        return "other"
    if parts[1] == "openai":
        return "openai-compatible"
    last = parts[-1]
    if ":" in last:
        action = last.rsplit(":", 1)[1]
        return action if action in ACTIONS else "other"
    return parts[1] if parts[1] in COLLECTIONS else "other"


def status_class(status: int) -> str:
    """The count this upstream status adds to (a 3xx answered, so it counts with 2xx)."""
    if status == 429:
        return "Upstream429"
    if 400 <= status < 500:
        return "Upstream4xx"
    if status >= 500 or status < 200:
        return "Upstream5xx"
    return "Upstream2xx"


def add(scope: Scope, fields: dict[str, Any]) -> None:
    """The access log's hook: the EMF record, when this app's settings ask for metrics."""
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    if settings is not None and settings.metrics:
        add_record(fields, settings.metrics_namespace)


def add_record(fields: dict[str, Any], namespace: str = NAMESPACE) -> None:
    """Make the access-log `fields` an EMF record, if the request was proxied (see module doc).

    Only fields the proxy set are read: `key` is already masked, `model` comes from the
    upstream path, `path` from the route. Nothing from headers, bodies or queries.
    """
    attempts = fields.get("attempts")
    if not isinstance(attempts, int):
        return
    upstream = fields.get("upstream_status")
    status = upstream if isinstance(upstream, int) else int(fields.get("status") or 500)
    refused = status in REFUSED
    fields.update(
        Key=UNKNOWN if refused else str(fields.get("key") or UNKNOWN),
        Model=UNKNOWN if refused else str(fields.get("model") or UNKNOWN),
        Route=route_of(str(fields.get("path", ""))),
        Requests=1,
        Attempts=attempts,
        Latency=fields.get("duration_ms", 0.0),
        **dict.fromkeys(STATUS_COUNTS, 0),
    )
    fields[status_class(status)] = 1
    fields["_aws"] = Directive(int(time.time() * 1000), namespace)


class Directive(dict[str, Any]):
    """The `_aws` member of an EMF record (a plain dict to anything that reads it). Its
    metric definitions are the same on every line, so logs.JsonFormatter splices in
    `json()`, written once per namespace, instead of encoding them for every request."""

    _written: dict[str, str] = {}

    def __init__(self, timestamp: int, namespace: str) -> None:
        directive = [{"Namespace": namespace, "Dimensions": DIMENSION_SETS, "Metrics": METRICS}]
        super().__init__(Timestamp=timestamp, CloudWatchMetrics=directive)

    def json(self) -> str:
        namespace = self["CloudWatchMetrics"][0]["Namespace"]
        definitions = self._written.get(namespace)
        if definitions is None:
            definitions = self._written[namespace] = json.dumps(self["CloudWatchMetrics"], separators=(",", ":"))
        return '{"Timestamp":' + str(self["Timestamp"]) + ',"CloudWatchMetrics":' + definitions + "}"
