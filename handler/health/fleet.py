"""Fleet figures from CloudWatch: per masked key, calls and 429s over the last hour and day.

Every container writes EMF records (handler/metrics.py) that CloudWatch sums across
the fleet; this module reads them back with `GetMetricData`, for the status page. It is
on only with `FLEET_METRICS=true` (the function then needs `cloudwatch:GetMetricData`,
an optional permission in template.yaml and serverless.yml). boto3 is imported only
then, on first use (its import is a large part of a cold start, docs/speed.md; the
Lambda runtime has it), and its blocking call runs in a thread.

The keys asked about are the caller's (an access token's pool, or one's own keys),
masked: only figures for those `Key` dimension values are read, so nobody sees another
caller's keys. Windows: the last hour in 5-minute bins and the last day in 1-hour bins,
metrics `Requests` and `Upstream429`, summed. Answers are kept for `CACHE_SECONDS` per
key set, which bounds both the page's latency and the CloudWatch bill (GetMetricData
is billed per metric read).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

from ..config import Settings

WINDOWS = {"hour": (300, 12), "day": (3600, 24)}  # name: (period in seconds, number of bins)
SERIES = {"calls": "Requests", "rate_limited": "Upstream429"}  # page name: metric name
MAX_QUERIES = 500  # GetMetricData's limit per call
MAX_KEYS = 100  # figures for at most this many keys per page (4 metrics each)
CACHE_SECONDS = 60.0
SDK_TIMEOUT = 5.0

_client_lock = threading.Lock()
_clients: dict[str, Any] = {}
_cache: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}


def _client() -> Any:
    """One CloudWatch client per process, in the function's own region (AWS_REGION)."""
    with _client_lock:
        client = _clients.get("cloudwatch")
        if client is None:
            import boto3  # only here: a proxy without FLEET_METRICS never imports it
            from botocore.config import Config

            config = Config(connect_timeout=SDK_TIMEOUT, read_timeout=SDK_TIMEOUT, retries={"max_attempts": 2})
            client = _clients["cloudwatch"] = boto3.client("cloudwatch", config=config)
        return client


def queries(namespace: str, masked: list[str], period: int) -> list[dict[str, Any]]:
    """One Sum query per key and series; the Id says which (`k{key index}_{series}`)."""
    return [
        {
            "Id": f"k{index}_{name}",
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": [{"Name": "Key", "Value": key}]},
                "Period": period,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, key in enumerate(masked)
        for name, metric in SERIES.items()
    ]


def _results(client: Any, batch: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every MetricDataResults entry of one batch, following NextToken."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        answer = client.get_metric_data(
            MetricDataQueries=batch, StartTime=start, EndTime=end, ScanBy="TimestampAscending", **extra
        )
        found += answer.get("MetricDataResults", [])
        token = answer.get("NextToken")
        if not token:
            return found


def read(namespace: str, masked: list[str], now: float | None = None) -> dict[str, Any]:
    """The figures for these masked keys (blocking: run it in a thread)."""
    now = time.time() if now is None else now
    client = _client()
    figures: dict[str, dict[str, Any]] = {key: {} for key in masked}
    windows: dict[str, dict[str, Any]] = {}
    for window, (period, bins) in WINDOWS.items():
        end = (math.floor(now / period) + 1) * period  # whole bins, as CloudWatch aligns them; now is inside the last
        start = end - period * bins
        windows[window] = {"period": period, "bins": bins, "end": _utc(end).isoformat()}
        for key in masked:
            figures[key][window] = {name: [0.0] * bins for name in SERIES}
        todo = queries(namespace, masked, period)
        for offset in range(0, len(todo), MAX_QUERIES):
            batch = todo[offset : offset + MAX_QUERIES]
            for result in _results(client, batch, _utc(start), _utc(end)):
                index, _, name = result["Id"][1:].partition("_")
                series = figures[masked[int(index)]][window][name]
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    slot = int((stamp.timestamp() - start) // period)
                    if 0 <= slot < bins:
                        series[slot] += value
    for per_window in figures.values():
        for data in per_window.values():
            data.update({f"{name}_total": sum(data[name]) for name in SERIES})
    return {"enabled": True, "namespace": namespace, "windows": windows, "keys": figures}


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _reason(exc: Exception) -> str:
    """botocore's error code (AccessDenied...) or the exception's type: never its text."""
    error = getattr(exc, "response", None)
    code = error.get("Error", {}).get("Code") if isinstance(error, dict) else None
    return code or type(exc).__name__


async def figures(settings: Settings, masked: list[str]) -> dict[str, Any]:
    """The fleet figures for the status page, or why there are none (never an exception)."""
    if not settings.fleet_metrics:
        return {
            "enabled": False,
            "reason": "Fleet figures are off (set FLEET_METRICS=true; see docs/status-and-metrics.md).",
        }
    masked = list(dict.fromkeys(masked))[:MAX_KEYS]
    ident = (settings.metrics_namespace, tuple(masked))
    cached = _cache.get(ident)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        answer = await asyncio.to_thread(read, ident[0], masked)
    except ImportError:
        return {"enabled": True, "error": "boto3 is not installed (pip install boto3)."}
    except Exception as exc:  # noqa: BLE001 - botocore's errors; only their code is shown
        return {"enabled": True, "error": f"CloudWatch cannot be read ({_reason(exc)})."}
    if len(_cache) >= 256:
        _cache.clear()
    _cache[ident] = (time.monotonic(), answer)
    return answer


def forget() -> None:
    """Drop the cached figures and client (tests)."""
    _cache.clear()
    with _client_lock:
        _clients.clear()
