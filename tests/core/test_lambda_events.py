"""The Mangum entry point with real API Gateway, function URL and ALB event shapes."""

from __future__ import annotations

import base64
import importlib
import json

import pytest

from ..conftest import KEY_A

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "from lambda"}]}]})


class Context:
    function_name = "gemini-edge-proxy"
    aws_request_id = "req-1"


def rest_v1(method, path, query=None, headers=None, body=None):
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "r1",
            "identity": {"sourceIp": "203.0.113.9"},
            "apiId": "abc123",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http_v2(method, path, query=None, headers=None, body=None, domain="abc123.execute-api.us-east-1.amazonaws.com"):
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": domain, **(headers or {})},
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "test",
            },
            "requestId": "r2",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795435200000,
        },
        "body": base64.b64encode(body.encode()).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def function_url(method, path, query=None, headers=None, body=None):
    return http_v2(method, path, query, headers, body, domain="xyz.lambda-url.us-east-1.on.aws")


def alb(method, path, query=None, headers=None, body=None):
    return {
        "requestContext": {
            "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": query or {},
        "headers": {"host": "alb.example", **(headers or {})},
        "body": body or "",
        "isBase64Encoded": False,
    }


EVENTS = {"rest_v1": rest_v1, "http_v2": http_v2, "function_url": function_url, "alb": alb}


@pytest.fixture
def lambda_handler(fake, fake_url, monkeypatch):
    monkeypatch.setenv("GEMINI_BASE_URL", fake_url)
    import handler.app
    import handler.lambda_function

    importlib.reload(handler.app)
    yield importlib.reload(handler.lambda_function).handler
    # Mangum keeps one event loop per process; close the upstream connection pool on it.
    import asyncio

    from handler import upstream

    asyncio.get_event_loop().run_until_complete(upstream.close_pool())


def body_of(result) -> bytes:
    data = result["body"]
    return base64.b64decode(data) if result.get("isBase64Encoded") else data.encode()


@pytest.mark.parametrize("kind", EVENTS)
def test_landing_page(lambda_handler, kind):
    result = lambda_handler(EVENTS[kind]("GET", "/"), Context())
    assert result["statusCode"] == 200
    assert b"Gemini Edge Proxy is running" in body_of(result)


@pytest.mark.parametrize("kind", EVENTS)
def test_native_post_and_two_invocations_in_a_row(lambda_handler, fake, kind):
    for text in ("first", "second"):
        body = BODY.replace("from lambda", text)
        event = EVENTS[kind](
            "POST", GENERATE, headers={"content-type": "application/json", "x-goog-api-key": KEY_A}, body=body
        )
        result = lambda_handler(event, Context())
        assert result["statusCode"] == 200, body_of(result)
        answer = json.loads(body_of(result))
        assert answer["candidates"][0]["content"]["parts"][0]["text"] == f"echo: {text}"
    assert [r.key for r in fake.received] == [KEY_A, KEY_A]


@pytest.mark.parametrize("kind", EVENTS)
def test_streamed_call_comes_back_whole(lambda_handler, fake, kind):
    event = EVENTS[kind](
        "POST", STREAM, query={"alt": "sse", "key": KEY_A}, headers={"content-type": "application/json"}, body=BODY
    )
    result = lambda_handler(event, Context())
    assert result["statusCode"] == 200
    raw = body_of(result)
    events = [json.loads(e[6:]) for e in raw.split(b"\r\n\r\n") if e]
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in events] == ["Hello", ", world", "!"]
    assert fake.received[0].query == {"alt": "sse"}
