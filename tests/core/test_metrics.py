"""EMF records in the access log, read back from the log lines; the fleet readout against moto's CloudWatch.

The records are parsed from the JSON lines the proxy writes (the real formatter), checked
against the Embedded Metric Format's rules, then fed to moto's CloudWatch the way
CloudWatch Logs extracts them, and read back through `GET /status/metrics`: the names
the writer uses and the names the reader asks for must meet.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest

from handler import logs, metrics
from handler.health import fleet

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN

ROOT = Path(__file__).resolve().parents[2]
GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
ALL_KEYS = (KEY_A, KEY_B, KEY_C)


def mask(key: str) -> str:
    return f"AIzaSy...{key[-4:]}"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line the proxy's logger writes during the test, formatted as in production."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    logs.logger.addHandler(handler)
    yield out
    logs.logger.removeHandler(handler)


def parsed(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def parsed_when(out: io.StringIO, count: int) -> list[dict]:
    """The lines once `count` access lines are in: a line is written just after its response is sent."""
    for _ in range(500):
        lines = parsed(out)
        if sum(line.get("msg") == "request" for line in lines) >= count:
            return lines
        time.sleep(0.01)
    return parsed(out)


def emf_records(lines: list[dict]) -> list[dict]:
    return [line for line in lines if "_aws" in line]


def assert_valid_emf(record: dict) -> None:
    """The Embedded Metric Format specification's rules for one record."""
    meta = record["_aws"]
    assert isinstance(meta["Timestamp"], int) and abs(meta["Timestamp"] / 1000 - time.time()) < 600
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "GeminiEdgeProxy"
    assert directive["Dimensions"] == [["Key"], ["Model"], ["Route"]]  # the documented dimensions
    for dimension_set in directive["Dimensions"]:
        for name in dimension_set:
            assert isinstance(record[name], str) and record[name]  # a dimension value is a string member
    names = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert names == {
        "Requests": "Count",
        "Attempts": "Count",
        "Upstream2xx": "Count",
        "Upstream4xx": "Count",
        "Upstream429": "Count",
        "Upstream5xx": "Count",
        "Latency": "Milliseconds",
    }
    for name in names:
        assert isinstance(record[name], (int, float)) and not isinstance(record[name], bool)
    assert record["Requests"] == 1
    assert sum(record[n] for n in metrics.STATUS_COUNTS) == 1  # exactly one status class


def test_one_record_per_proxied_request_with_the_documented_dimensions(start_proxy, fake, log_lines):
    url = start_proxy(GEMINI_API_KEYS=",".join(ALL_KEYS), ACCESS_TOKENS=TOKEN)
    fake.keys[KEY_B] = "rate_limited"
    fake.keys[KEY_C] = "rate_limited"
    expected = []
    with httpx.Client(base_url=url, timeout=30) as client:
        # Native with the caller's own key: 200.
        r = client.post(GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A})
        assert r.status_code == 200
        expected.append(("AIzaSy...1111", "gemini-2.5-flash", "generateContent", "Upstream2xx", 1))
        # Native with the caller's own rate-limited key, sent as ?key=: a 429.
        r = client.post(GENERATE + f"?key={KEY_B}", json=BODY)
        assert r.status_code == 429
        expected.append(("AIzaSy...2222", "gemini-2.5-flash", "generateContent", "Upstream429", 1))
        # Two rate-limited keys: failover, 2 attempts, the last key's 429.
        r = client.post(GENERATE, json=BODY, headers={"x-goog-api-key": f"{KEY_B},{KEY_C}"})
        assert r.status_code == 429 and r.headers["x-proxy-attempts"] == "2"
        expected.append((r.headers["x-proxy-key"], "gemini-2.5-flash", "generateContent", "Upstream429", 2))
        # An invalid key: Gemini refuses the request itself, so neither key nor model becomes a dimension.
        fake.keys["AIzaSyMadeUp-zzzzzzzzzzzzzzzzzzzzzzzzz"] = "invalid"
        r = client.post(
            "/v1beta/models/made-up-model:generateContent",
            json=BODY,
            headers={"x-goog-api-key": "AIzaSyMadeUp-zzzzzzzzzzzzzzzzzzzzzzzzz"},
        )
        assert r.status_code == 400
        expected.append(("-", "-", "generateContent", "Upstream4xx", 1))
        # Not proxied: no record.
        assert client.get("/healthz").status_code == 200
        assert client.post(GENERATE, json=BODY).status_code == 401
        assert client.post("/verify?format=json", headers={"x-goog-api-key": KEY_A}).status_code == 200
        assert client.get("/status/data", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    # The OpenAI route with the server pool (token): the Gemini model and the OpenAI route.
    fake.keys.clear()
    chat = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0)
    reply = chat.chat.completions.with_raw_response.create(
        model="gemini-2.5-pro", messages=[{"role": "user", "content": "Hi"}]
    )
    served = reply.headers["x-proxy-key"]
    expected.append((served, "gemini-2.5-pro", "chat.completions", "Upstream2xx", 1))

    lines = parsed_when(log_lines, 9)
    records = emf_records(lines)
    assert sum(line.get("msg") == "request" for line in lines) == 9
    assert len(records) == 5  # one per proxied request, none for the rest
    for record in records:
        assert_valid_emf(record)
        assert record["Latency"] == record["duration_ms"] and record["Route"] in metrics.ACTIONS | {"chat.completions"}
    got = [
        (r["Key"], r["Model"], r["Route"], next(n for n in metrics.STATUS_COUNTS if r[n]), r["Attempts"])
        for r in records
    ]
    assert got == expected
    # What the fake received matches what the records say.
    assert mask(fake.generate_calls[-1].key) == served and "gemini-2.5-pro" in fake.generate_calls[-1].path
    text = log_lines.getvalue()
    for secret in (*ALL_KEYS, TOKEN, "AIzaSyMadeUp-zzzzzzzzzzzzzzzzzzzzzzzzz"):
        assert secret not in text  # never a full key or token in any line


def test_metrics_off_and_own_namespace(start_proxy, fake, log_lines):
    off = start_proxy(METRICS="false")
    assert httpx.post(off + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}).status_code == 200
    own = start_proxy(METRICS_NAMESPACE="Team/Gemini")
    assert httpx.post(own + GENERATE, json=BODY, headers={"x-goog-api-key": KEY_A}).status_code == 200
    lines = [line for line in parsed_when(log_lines, 2) if line.get("msg") == "request"]
    assert "_aws" not in lines[0] and lines[0]["key"] == "AIzaSy...1111"  # the plain access line is still there
    assert lines[1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Team/Gemini"


@pytest.mark.parametrize(
    "path,route",
    [
        ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", "streamGenerateContent"),
        ("/v1/models/gemini-embedding-001:batchEmbedContents", "batchEmbedContents"),
        ("/v1beta/models/x:somethingInvented", "other"),
        ("/v1beta/files/abc", "files"),
        ("/v1beta/invented/abc", "other"),
        ("/upload/v1beta/files", "upload"),
        ("/v1beta/openai/chat/completions", "openai-compatible"),
        ("/chat/completions", "chat.completions"),
        ("/openai/v1/chat/completions", "chat.completions"),
        ("/v1/embeddings", "embeddings"),
        ("/v1/models/gemini-2.5-flash", "models"),
        ("/models", "models"),
        ("/models/gemini-2.5-flash:generateContent", "generateContent"),
        ("/gemini/v1beta/models/gemini-2.5-flash:countTokens", "countTokens"),
        ("/status", "status"),
        ("/status/data", "status"),
        ("/status/metrics", "status"),
        ("/verify", "verify"),
        ("/v1/conversations/abc", "conversations"),
        ("/responses/resp_1/input_items", "responses"),
        ("/messages/count_tokens", "messages.count_tokens"),
    ],
)
def test_route_names_come_from_a_fixed_list(path, route):
    assert metrics.route_of(path) == route


CLAUDE = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
SPEECH = {"model": "tts-1", "voice": "echo", "input": "hi", "response_format": "pcm"}


@pytest.mark.parametrize(
    "path, body, route",
    [
        (GENERATE, BODY, "generateContent"),
        (
            "/v1/chat/completions",
            {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]},
            "chat.completions",
        ),
        (
            "/hf/v1/chat/completions",
            {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]},
            "chat.completions",
        ),
        ("/v1/embeddings", {"model": "models/gemini-embedding-001", "input": "hello"}, "embeddings"),
        ("/v1/messages", CLAUDE, "messages"),
        ("/v1/messages/count_tokens", CLAUDE, "messages.count_tokens"),
        ("/v1/responses", {"model": "gemini-2.5-flash", "input": "hi"}, "responses"),
        ("/openai/v1/responses", {"model": "gemini-2.5-flash", "input": "hi"}, "responses"),
        ("/v1/images/generations", {"prompt": "A lighthouse.", "model": "imagen-3.0-generate-002"}, "images"),
        ("/v1/audio/speech", SPEECH, "speech"),
        ("/hf/v1/audio/speech", SPEECH, "speech"),
    ],
)
def test_route_dimension_names_every_route_family(proxy, fake, log_lines, path, body, route):
    """Each translated protocol's route has its own `Route` value (Claude Code's and Codex's
    traffic can be told apart), read from the record the real request wrote."""
    r = httpx.post(proxy + path, json=body, headers={"authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 200, r.text
    (record,) = emf_records(parsed_when(log_lines, 1))
    assert_valid_emf(record)
    assert record["Route"] == route and record["path"] == path


def test_status_routes_name_their_route_but_add_no_record(start_proxy, fake, log_lines):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN)
    assert httpx.get(url + "/status/data", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    lines = parsed_when(log_lines, 1)
    assert [line["path"] for line in lines if line.get("msg") == "request"] == ["/status/data"]
    assert emf_records(lines) == [] and metrics.route_of("/status/data") == "status"


def put_as_cloudwatch_would(client, records: list[dict], shift: float = 0.0) -> None:
    """What CloudWatch Logs does with an EMF line: one datum per metric and dimension set."""
    for record in records:
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        stamp = datetime.fromtimestamp(record["_aws"]["Timestamp"] / 1000 - shift, UTC)
        for dimension_set in directive["Dimensions"]:
            client.put_metric_data(
                Namespace=directive["Namespace"],
                MetricData=[
                    {
                        "MetricName": m["Name"],
                        "Unit": m["Unit"],
                        "Value": float(record[m["Name"]]),
                        "Timestamp": stamp,
                        "Dimensions": [{"Name": d, "Value": record[d]} for d in dimension_set],
                    }
                    for m in directive["Metrics"]
                ],
            )


def test_fleet_view_reads_back_what_the_records_wrote(start_proxy, fake, log_lines, cloudwatch):
    url = start_proxy(GEMINI_API_KEYS=",".join(ALL_KEYS), ACCESS_TOKENS=TOKEN, FLEET_METRICS="true")
    fake.keys[KEY_B] = "rate_limited"
    with httpx.Client(base_url=url, timeout=30) as client:
        for key in (KEY_A, KEY_A, KEY_B, KEY_B, KEY_B, KEY_C):
            client.post(GENERATE, json=BODY, headers={"x-goog-api-key": key})
    records = emf_records(parsed_when(log_lines, 6))
    assert len(records) == 6
    put_as_cloudwatch_would(cloudwatch, records)
    put_as_cloudwatch_would(cloudwatch, records[:1], shift=3 * 3600)  # one call three hours ago: day, not hour

    answer = httpx.get(url + "/status/metrics?as=token", headers={"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert data["enabled"] is True and set(data["keys"]) == {mask(k) for k in ALL_KEYS}
    totals = {
        key: (f["hour"]["calls_total"], f["hour"]["rate_limited_total"], f["day"]["calls_total"])
        for key, f in data["keys"].items()
    }
    assert totals == {"AIzaSy...1111": (2, 0, 3), "AIzaSy...2222": (3, 3, 3), "AIzaSy...3333": (1, 0, 1)}
    hour = data["keys"]["AIzaSy...2222"]["hour"]
    assert len(hour["calls"]) == 12 and len(data["keys"]["AIzaSy...2222"]["day"]["calls"]) == 24
    assert hour["calls"][-1] == 3 and hour["rate_limited"][-1] == 3  # in the latest bin
    assert data["windows"]["hour"]["period"] == 300 and data["windows"]["day"]["period"] == 3600

    # One's own keys: only their figures, without a token.
    mine = httpx.get(url + "/status/metrics", headers={"x-goog-api-key": KEY_C}).json()
    assert set(mine["keys"]) == {"AIzaSy...3333"} and mine["keys"]["AIzaSy...3333"]["day"]["calls_total"] == 1
    assert TOKEN not in answer.text and not any(k in answer.text for k in ALL_KEYS)


def test_fleet_readout_refuses_and_explains(start_proxy, fake, monkeypatch):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN, FLEET_METRICS="true")
    wrong = httpx.get(url + "/status/metrics?as=token", headers={"authorization": "Bearer not-the-token-000"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Invalid access token."
    assert httpx.get(url + "/status/metrics").status_code == 401
    in_url = httpx.get(url + f"/status/metrics?key={TOKEN}")
    assert in_url.status_code == 400 and "never in the URL" in in_url.json()["error"]["message"]
    assert fake.received == []  # nothing went upstream

    from botocore.exceptions import ClientError

    class Denied:
        def get_metric_data(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": f"no {TOKEN}"}}, "GetMetricData")

    fleet.forget()
    monkeypatch.setitem(fleet._clients, "cloudwatch", Denied())
    denied = httpx.get(url + "/status/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert denied.status_code == 200
    assert denied.json() == {"enabled": True, "error": "CloudWatch cannot be read (AccessDenied)."}
    fleet.forget()

    off = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN)
    data = httpx.get(off + "/status/metrics", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert data["enabled"] is False and "FLEET_METRICS=true" in data["reason"]


def test_boto3_is_not_imported_unless_fleet_figures_are_on():
    code = (
        "import sys\n"
        "from starlette.testclient import TestClient\n"
        "from handler.app import create_app\n"
        "from handler.config import Settings\n"
        "app = create_app(Settings.from_env({'ACCESS_TOKENS': 'tok-1234567890', 'GEMINI_API_KEYS': 'k-1234567890abcdef'}))\n"
        "r = TestClient(app).get('/status/metrics', headers={'authorization': 'Bearer tok-1234567890'})\n"
        "print(r.status_code, r.json()['enabled'], 'boto3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["200", "False", "False"]


def test_bins_are_whole_periods_and_now_falls_in_the_last(cloudwatch):
    """A point exactly on a bin boundary, and one just before the window, land where they should."""
    now = 1_800_000_000.0  # a multiple of 3600 and of 300: the edge case
    for seconds_ago, value in ((0, 2.0), (3600, 5.0), (86400 + 1, 7.0)):
        cloudwatch.put_metric_data(
            Namespace="NS",
            MetricData=[
                {
                    "MetricName": "Requests",
                    "Value": value,
                    "Unit": "Count",
                    "Timestamp": datetime.fromtimestamp(now - seconds_ago, UTC),
                    "Dimensions": [{"Name": "Key", "Value": "AIzaSy...1111"}],
                }
            ],
        )
    day = fleet.read("NS", ["AIzaSy...1111"], now=now)["keys"]["AIzaSy...1111"]["day"]
    assert day["calls"][-1] == 2.0 and day["calls"][-2] == 5.0 and day["calls_total"] == 7.0  # the 7 is too old
    hour = fleet.read("NS", ["AIzaSy...1111"], now=now)["keys"]["AIzaSy...1111"]["hour"]
    assert hour["calls"] == [0.0] * 11 + [2.0]
