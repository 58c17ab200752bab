"""Shared fixtures: the fake Gemini upstream and the proxy, both real servers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

# Why hypothesis is imported here: run without the property tests, its pytest plugin
# imports it while printing the summary, and pytest rewrites it then; on CPython 3.11.7
# that rewrite failed about one run in three ("SystemError: AST constructor recursion
# depth mismatch", a bug of ast's recursion accounting in 3.11). Imported up front,
# nothing is left to rewrite at the end.
import hypothesis  # noqa: F401
import pytest

from handler.app import create_app
from handler.config import Settings
from handler.health import fleet
from handler.keys.cooldown import Cooldown

from .fake_gemini import FakeGemini
from .servers import ServerThread

# Recognisable secrets: tests assert they never show up unmasked.
KEY_A = "AIzaSyA-test-key-aaaaaaaaaaaaaaaaaaaa1111"
KEY_B = "AIzaSyB-test-key-bbbbbbbbbbbbbbbbbbbb2222"
KEY_C = "AIzaSyC-test-key-cccccccccccccccccccc3333"
TOKEN = "proxy-access-token-0123456789-secret"
SHIPPED_PROTOCOL = "handler.server:GuardedHttpTools"  # what run.sh, the Dockerfile and the README start


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[FakeGemini, ServerThread]]:
    fake = FakeGemini()
    server = ServerThread(fake.app()).start()
    yield fake, server
    server.stop()


@pytest.fixture
def fake(fake_server) -> FakeGemini:
    fake_server[0].reset()
    return fake_server[0]


@pytest.fixture
def fake_url(fake_server) -> str:
    return fake_server[1].url


@pytest.fixture(scope="session")
def _proxies(fake_server) -> Iterator[dict]:
    started: dict[tuple, ServerThread] = {}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(autouse=True)
def _forget_cooldowns(_proxies) -> Iterator[None]:
    """Each test starts with proxies that remember no failed key (and have read no model list)."""
    for server in _proxies.values():
        server.app.state.cooldown.clear()
        server.app.state.families = server.app.state.refusals = None
    yield


def cooldown_of(url: str, proxies: dict) -> Cooldown:
    """The cooldown memory of the proxy serving `url`."""
    for server in proxies.values():
        if server.url == url:
            return server.app.state.cooldown
    raise KeyError(url)


@pytest.fixture
def cooldown(proxy, _proxies) -> Cooldown:
    """The default proxy's cooldown memory (to make keys be tried last, as a warm container would)."""
    return cooldown_of(proxy, _proxies)


@pytest.fixture
def cooldown_for(_proxies) -> Callable[[str], Cooldown]:
    """The cooldown memory of the proxy at a URL that `start_proxy` gave."""
    return lambda url: cooldown_of(url, _proxies)


@pytest.fixture
def start_proxy(fake_server, _proxies) -> Callable[..., str]:
    """Start (or reuse) a proxy under uvicorn configured by environment-style settings,
    with the HTTP protocol the start commands ship (`http="httptools"`: uvicorn's own)."""

    def start(http: str = SHIPPED_PROTOCOL, **env: str) -> str:
        env = {"GEMINI_BASE_URL": fake_server[1].url, **env}
        ident = (http, *sorted(env.items()))
        if ident not in _proxies:
            _proxies[ident] = ServerThread(create_app(Settings.from_env(env)), http=http).start()
        return _proxies[ident].url

    return start


@pytest.fixture
def proxy(start_proxy, fake) -> str:
    """The proxy with default settings (client keys allowed, no server pool)."""
    return start_proxy()


@pytest.fixture
def cloudwatch(monkeypatch):
    """moto's CloudWatch, in this process (the proxy's threads included); no network."""
    moto = pytest.importorskip("moto", reason="moto is not installed (requirements-dev.txt)")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    fleet.forget()
    with moto.mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")
    fleet.forget()
