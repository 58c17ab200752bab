"""The server-side key pool from AWS Secrets Manager (moto stands in for AWS).

The proxy under test runs in a thread of this process, so moto's in-process mock
answers its boto3 calls. Time is moved forward by replacing `pool.clock`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from moto import mock_aws

from handler.keys import pool

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
OTHER_TOKEN = "second-access-token-from-the-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake_clock = Clock()
    monkeypatch.setattr(pool, "clock", fake_clock)
    return fake_clock


@pytest.fixture
def secrets(monkeypatch):
    """A mocked Secrets Manager, with fake credentials, and no cached pool."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    pool.forget()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")
    pool.forget()


@pytest.fixture
def reads(monkeypatch) -> list[float]:
    """Counts the proxy's reads of the secret."""
    calls: list[float] = []
    real = pool.read_secret

    def counted(arn: str) -> pool.KeyPool:
        calls.append(time.monotonic())
        return real(arn)

    monkeypatch.setattr(pool, "read_secret", counted)
    return calls


def new_secret(client, value: str) -> str:
    return client.create_secret(Name=f"gemini-keys-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]


def call(url: str, credential: str) -> httpx.Response:
    return httpx.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": credential})


def pool_logs(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gemini_proxy" and "secret" in r.getMessage()]


def test_json_secret_gives_keys_and_tokens(secrets, start_proxy, fake, reads, clock):
    arn = new_secret(secrets, json.dumps({"gemini_keys": [KEY_B, KEY_C], "access_tokens": [TOKEN]}))
    url = start_proxy(KEYS_SECRET_ARN=arn, GEMINI_API_KEYS=KEY_A)
    for _ in range(6):
        r = httpx.post(url + GENERATE, json=BODY, headers={"authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
    # The secret's keys, not the environment's, and never the token.
    assert {x.key for x in fake.received} <= {KEY_B, KEY_C}
    assert len(reads) == 1  # read once, then cached
    # A caller's own key still goes through as it is.
    assert call(url, KEY_A).status_code == 200 and fake.received[-1].key == KEY_A


def test_plain_secret_with_tokens_from_the_environment(secrets, start_proxy, fake, clock):
    arn = new_secret(secrets, f" {KEY_B} ,{KEY_C},")
    url = start_proxy(KEYS_SECRET_ARN=arn, ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    for _ in range(4):
        assert call(url, TOKEN).status_code == 200
    assert {x.key for x in fake.received} <= {KEY_B, KEY_C} and len(fake.received) == 4
    count = len(fake.received)
    assert call(url, KEY_A).status_code == 401  # closed proxy: only tokens
    assert len(fake.received) == count


def test_tokens_combine_from_secret_and_environment(secrets, start_proxy, fake, clock):
    arn = new_secret(secrets, json.dumps({"gemini_keys": KEY_B, "access_tokens": OTHER_TOKEN}))
    url = start_proxy(KEYS_SECRET_ARN=arn, ACCESS_TOKENS=TOKEN, ALLOW_CLIENT_KEYS="false")
    assert call(url, TOKEN).status_code == 200
    assert call(url, OTHER_TOKEN).status_code == 200
    assert [x.key for x in fake.received] == [KEY_B, KEY_B]


def test_rotation_takes_effect_after_the_refresh_interval(secrets, start_proxy, fake, reads, clock):
    arn = new_secret(secrets, json.dumps({"gemini_keys": [KEY_B], "access_tokens": [TOKEN]}))
    url = start_proxy(KEYS_SECRET_ARN=arn, KEYS_REFRESH_SECONDS="300")
    assert call(url, TOKEN).status_code == 200
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"gemini_keys": [KEY_C], "access_tokens": [TOKEN]}))
    clock.now += 299
    assert call(url, TOKEN).status_code == 200
    assert [x.key for x in fake.received] == [KEY_B, KEY_B]  # still the cached value
    clock.now += 2
    assert call(url, TOKEN).status_code == 200
    assert call(url, TOKEN).status_code == 200
    assert [x.key for x in fake.received][2:] == [KEY_C, KEY_C]
    assert len(reads) == 2


def test_missing_secret_gives_503_to_every_credential(secrets, start_proxy, fake, reads, clock, caplog):
    caplog.set_level(logging.INFO)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    url = start_proxy(KEYS_SECRET_ARN=arn, ACCESS_TOKENS=TOKEN)
    for credential in (TOKEN, OTHER_TOKEN, f"{KEY_A},{TOKEN}"):
        r = call(url, credential)
        assert r.status_code == 503
        assert r.json()["error"] == {
            "code": 503,
            "message": "The server-side key pool cannot be read right now. Try again later.",
            "status": "UNAVAILABLE",
        }
    # No key format tells a key from a token the secret may hold, so nothing goes upstream.
    r = call(url, KEY_A)
    assert r.status_code == 503
    assert fake.received == []  # an access token never goes upstream as a key
    assert len(reads) == 1  # not read again on every request: retried after a pause
    clock.now += pool.RETRY_SECONDS + 1
    assert call(url, TOKEN).status_code == 503
    assert len(reads) == 2
    (line,) = pool_logs(caplog)  # logged once, with the reason
    assert line.levelno == logging.ERROR
    assert "ResourceNotFoundException" in line.fields["reason"]
    assert TOKEN not in str(line.fields)


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"gemini_keys": ["' + KEY_B + '", ', "not valid JSON"),
        ('["' + KEY_B + '"]', "must be a JSON object"),
        ('{"keys": ["' + KEY_B + '"]}', "neither gemini_keys nor access_tokens"),
        ('{"gemini_keys": [42]}', "must be a list of strings"),
        ('{"gemini_keys": [], "access_tokens": []}', "holds no keys"),
        (KEY_B + " " + KEY_C, "cannot go in a header"),
        ("   ", "empty"),
    ],
)
def test_malformed_secret_gives_503_and_a_log_without_content(secrets, start_proxy, fake, clock, caplog, text, reason):
    caplog.set_level(logging.INFO)
    arn = new_secret(secrets, text)
    url = start_proxy(KEYS_SECRET_ARN=arn, ACCESS_TOKENS=TOKEN)
    r = call(url, TOKEN)
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"
    assert fake.received == []
    (line,) = pool_logs(caplog)
    assert reason in line.fields["reason"]
    logged = line.getMessage() + json.dumps(line.fields)
    assert KEY_B not in logged and KEY_C not in logged and KEY_B not in r.text
    # Until the secret is readable, its tokens are unknown and no key format tells a key
    # from a token: nothing is forwarded.
    assert call(url, KEY_A).status_code == 503 and fake.received == []


def test_failed_refresh_keeps_the_last_good_keys(secrets, start_proxy, fake, reads, clock, caplog):
    caplog.set_level(logging.INFO)
    arn = new_secret(secrets, json.dumps({"gemini_keys": [KEY_B], "access_tokens": [TOKEN]}))
    url = start_proxy(KEYS_SECRET_ARN=arn, KEYS_REFRESH_SECONDS="60")
    assert call(url, TOKEN).status_code == 200
    secrets.put_secret_value(SecretId=arn, SecretString='{"gemini_keys": ["oops"')  # broken
    for _ in range(3):
        clock.now += 61
        assert call(url, TOKEN).status_code == 200
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)  # gone altogether
    clock.now += 61
    assert call(url, TOKEN).status_code == 200
    assert [x.key for x in fake.received] == [KEY_B] * 5
    assert len(reads) == 5
    (line,) = pool_logs(caplog)  # one line for the whole failing stretch
    assert line.fields["pool"] == "keeps serving the last good keys"
    assert "oops" not in json.dumps(line.fields)


def test_recovery_after_a_failed_refresh(secrets, start_proxy, fake, clock, caplog):
    caplog.set_level(logging.INFO)
    arn = new_secret(secrets, json.dumps({"gemini_keys": [KEY_B], "access_tokens": [TOKEN]}))
    url = start_proxy(KEYS_SECRET_ARN=arn, KEYS_REFRESH_SECONDS="60")
    assert call(url, TOKEN).status_code == 200
    secrets.put_secret_value(SecretId=arn, SecretString="{")
    clock.now += 61
    assert call(url, TOKEN).status_code == 200
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"gemini_keys": [KEY_C], "access_tokens": [TOKEN]}))
    clock.now += 61
    assert call(url, TOKEN).status_code == 200
    assert [x.key for x in fake.received] == [KEY_B, KEY_B, KEY_C]
    assert [r.getMessage() for r in pool_logs(caplog)] == [
        "key pool secret unavailable",
        "key pool secret readable again",
    ]


def test_one_read_at_a_time(secrets, start_proxy, fake, clock, monkeypatch):
    arn = new_secret(secrets, json.dumps({"gemini_keys": [KEY_B], "access_tokens": [TOKEN]}))
    url = start_proxy(KEYS_SECRET_ARN=arn)
    real, started, busy = pool.read_secret, [], threading.Lock()

    def slow(arn_: str) -> pool.KeyPool:
        assert busy.acquire(blocking=False), "two reads at once"
        try:
            started.append(time.monotonic())
            time.sleep(0.3)
            return real(arn_)
        finally:
            busy.release()

    monkeypatch.setattr(pool, "read_secret", slow)

    async def burst() -> list[int]:
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(
                *(client.post(url + GENERATE, json=BODY, headers={"x-goog-api-key": TOKEN}) for _ in range(6))
            )
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 6  # the first load: all wait for the one read
    assert len(started) == 1
    clock.now += 301
    assert asyncio.run(burst()) == [200] * 6  # the refresh: one read, the others use the last pool
    assert len(started) == 2
    assert {x.key for x in fake.received} == {KEY_B}


def test_boto3_is_not_imported_without_a_secret():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, asyncio\n"
        "from handler.app import create_app\n"
        "from handler.config import Settings\n"
        "from handler.keys import credentials\n"
        "for env in ({}, {'KEYS_SECRET_ARN': 'arn:aws:secretsmanager:us-east-1:1:secret:x'}):\n"
        "    create_app(Settings.from_env(env))\n"
        "s = Settings.from_env({'GEMINI_API_KEYS': 'k1', 'ACCESS_TOKENS': 't1'})\n"
        "assert asyncio.run(credentials.resolve(s, ('t1',))).keys == ('k1',)\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
