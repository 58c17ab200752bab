"""/status in a real browser: headless Chromium (Debian's package) driven by Playwright.

The system browser is used (`executable_path`), never a Playwright download; without
it (or without the playwright package) these tests skip and say why. `.ci/run`
installs Debian's chromium when it can. Screenshots go to each test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ..conftest import KEY_A, KEY_B, KEY_C, TOKEN

ALL = (KEY_A, KEY_B, KEY_C)
SECRETS = (*ALL, TOKEN)


def mask(key: str) -> str:
    return f"AIzaSy...{key[-4:]}"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; the browser comes from apt: chromium)")
    path = chromium_path()
    if path is None:
        pytest.skip("no system Chromium (apt-get install -y chromium, or set CHROMIUM_PATH)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        yield launched
        launched.close()


def open_page(browser, url: str, width: int, height: int):
    """A fresh page (own storage) on /status, with every request it makes recorded."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    requests: list = []
    page.on("request", lambda request: requests.append(request))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url + "/status")
    return context, page, requests, errors


def cards(page) -> dict[str, str]:
    """Masked key -> the status its card shows."""
    return {
        card.locator(".mask").inner_text(): card.locator(".badge").inner_text() for card in page.locator(".key").all()
    }


def wait_checked(page, count: int) -> None:
    """Until every card has its verdict (locators, not wait_for_function: the page's CSP forbids eval)."""
    from playwright.sync_api import expect

    expect(page.locator(".key")).to_have_count(count)
    expect(page.locator(".key .badge.s-checking")).to_have_count(0)


def assert_no_secret_in_urls(requests: list) -> None:
    assert requests, "the page made no request"
    for request in requests:
        for secret in SECRETS:
            assert secret not in request.url, request.url
        assert "key=" not in request.url


def put_figures(client) -> None:
    """Calls and 429s per masked key, as the EMF records would have put them."""
    now = datetime.now(UTC)
    for key, calls, limited in ((KEY_A, 5, 0), (KEY_B, 4, 3), (KEY_C, 1, 0)):
        for minutes in range(calls):
            stamp = now - timedelta(minutes=minutes * 20)
            data = [("Requests", 1.0)] + ([("Upstream429", 1.0)] if minutes < limited else [])
            client.put_metric_data(
                Namespace="GeminiEdgeProxy",
                MetricData=[
                    {
                        "MetricName": name,
                        "Value": value,
                        "Unit": "Count",
                        "Timestamp": stamp,
                        "Dimensions": [{"Name": "Key", "Value": mask(key)}],
                    }
                    for name, value in data
                ],
            )


def test_token_shows_each_masked_key_with_its_live_status(
    browser, start_proxy, cooldown_for, fake, cloudwatch, tmp_path
):
    url = start_proxy(GEMINI_API_KEYS=",".join(ALL), ACCESS_TOKENS=TOKEN, FLEET_METRICS="true")
    fake.keys.update({KEY_B: "rate_limited", KEY_C: "invalid"})
    cooldown_for(url).cool(KEY_B, 90, owned=True)  # this container's view: one key cooling down
    put_figures(cloudwatch)
    context, page, requests, errors = open_page(browser, url, 1280, 900)
    assert page.title() == "Key health - Gemini Edge Proxy"
    page.fill("#secret", TOKEN)
    page.click("#go")
    wait_checked(page, 3)
    assert cards(page) == {mask(KEY_A): "valid", mask(KEY_B): "rate limited", mask(KEY_C): "invalid"}
    chips = page.locator("#counts").inner_text()
    assert "3 keys" in chips and "valid: 1" in chips and "rate limited: 1" in chips and "invalid: 1" in chips
    cooling = page.locator(f".key[data-key='{mask(KEY_B)}'] .cool").inner_text()
    assert cooling.startswith("cooling down: ") and "s left" in cooling
    assert page.locator(f".key[data-key='{mask(KEY_A)}'] .cool").inner_text() == ""
    page.wait_for_selector(".key svg rect")  # the fleet charts, drawn from moto's CloudWatch
    chart = page.locator(f".key[data-key='{mask(KEY_B)}'] .chart").nth(1).inner_text()
    assert "last day (1 h): 4 calls, 3 x 429" in chart
    assert page.locator(f".key[data-key='{mask(KEY_B)}'] svg rect.c-rl").count() >= 1
    page.wait_for_selector("#msg:text-matches('^Checked 3 key')")
    page.screenshot(path=str(tmp_path / "status-desktop.png"), full_page=True)

    # Each key checked once upstream; the token went only in headers; nothing stored.
    assert sorted(r.key for r in fake.received) == sorted(ALL)
    assert_no_secret_in_urls(requests)
    api = [r for r in requests if r.url != url + "/status"]
    assert {r.url.split("?")[0].removeprefix(url) for r in api} == {"/status/data", "/verify", "/status/metrics"}
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in api)
    assert page.evaluate("JSON.stringify(localStorage)") == "{}" and page.evaluate("document.cookie") == ""
    text = page.content()
    assert not any(secret in text for secret in ALL)  # the page shows masked keys only
    assert errors == []
    context.close()


def test_own_keys_on_a_phone_sized_screen(browser, start_proxy, fake, tmp_path):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN)
    fake.keys[KEY_C] = "forbidden"
    context, page, requests, errors = open_page(browser, url, 360, 740)
    page.check("#as-keys")
    page.fill("#secret", f"{KEY_B},{KEY_C}")
    page.check("#remember")
    page.click("#go")
    wait_checked(page, 2)
    assert cards(page) == {mask(KEY_B): "valid", mask(KEY_C): "permission denied"}
    assert "Your keys" in page.locator("#scope").inner_text()
    assert "Fleet figures are off" in page.locator("#fleet").inner_text()
    # Readable on a phone: nothing wider than the screen, the button reachable.
    wide = page.evaluate(
        "[...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > 360).map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide
    box = page.locator("#go").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    page.screenshot(path=str(tmp_path / "status-phone.png"), full_page=True)
    assert [r.key for r in fake.received] and {r.key for r in fake.received} == {KEY_B, KEY_C}
    assert all(
        r.headers.get("x-goog-api-key") == f"{KEY_B},{KEY_C}"
        for r in requests
        if "/status/" in r.url or "/verify" in r.url
    )
    assert_no_secret_in_urls(requests)
    # "Remember" ticked: kept in this browser; "Forget" removes it.
    assert KEY_B in page.evaluate("localStorage.getItem('gemini-edge-proxy.status')")
    page.reload()
    assert page.input_value("#secret") == f"{KEY_B},{KEY_C}" and page.is_checked("#as-keys")
    page.click("#forget")
    assert page.evaluate("JSON.stringify(localStorage)") == "{}" and page.input_value("#secret") == ""
    assert errors == []
    context.close()


def test_a_wrong_token_gets_a_clear_refusal(browser, start_proxy, fake, tmp_path):
    url = start_proxy(GEMINI_API_KEYS=KEY_A, ACCESS_TOKENS=TOKEN)
    context, page, requests, _ = open_page(browser, url, 800, 600)
    page.fill("#secret", "not-the-token-0123456789")
    page.click("#go")
    page.wait_for_selector("#msg.error")
    assert page.locator("#msg").inner_text() == "Invalid access token."
    assert page.locator(".key").count() == 0
    assert not any("/verify" in r.url for r in requests)  # nothing checked with a wrong token
    assert fake.received == []
    assert not any("not-the-token" in r.url for r in requests)
    page.screenshot(path=str(tmp_path / "status-refused.png"))
    # The right token next: the keys appear; a wrong one again clears them.
    page.fill("#secret", TOKEN)
    page.click("#go")
    wait_checked(page, 1)
    page.fill("#secret", "still-not-the-token-0123")
    page.click("#go")
    page.wait_for_selector("#msg.error")
    assert page.locator(".key").count() == 0 and page.locator("#counts").inner_text() == ""
    context.close()


def test_page_is_self_contained(browser, start_proxy, fake):
    """No external asset: every request the page makes goes to its own origin."""
    url = start_proxy()
    context, page, requests, errors = open_page(browser, url, 800, 600)
    page.wait_for_load_state("networkidle")
    assert [r.url for r in requests] == [url + "/status"]
    response = page.request.get(url + "/status")
    csp = response.headers["content-security-policy"]
    assert (
        "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    )
    page.click("#go")  # the CSP lets the page's own script run: it answers the empty form
    assert page.locator("#msg").inner_text() == "Type an access token or your keys first."
    assert errors == [] and [r.url for r in requests] == [url + "/status"]
    context.close()


def test_cooldown_view_is_per_key_and_model_and_only_the_callers(fake_url):
    """/status/data shows this container's cooldowns (per key and model) for the caller's keys only."""
    import httpx

    from handler.app import create_app
    from handler.config import Settings

    from ..servers import ServerThread

    app = create_app(
        Settings.from_env({"GEMINI_BASE_URL": fake_url, "GEMINI_API_KEYS": f"{KEY_A},{KEY_B}", "ACCESS_TOKENS": TOKEN})
    )
    server = ServerThread(app).start()
    try:
        app.state.cooldown.cool(KEY_B, 42.5, "gemini-2.5-pro", "rate_limited", owned=True)
        app.state.cooldown.cool("AIzaSyZ-not-the-callers-key-zzzzzzzz9999", 10.0, None, "invalid")
        auth = {"authorization": f"Bearer {TOKEN}"}
        data = httpx.get(server.url + "/status/data?as=token", headers=auth).json()
        assert [(c["key"], c["model"], c["reason"]) for c in data["cooldowns"]] == [
            (mask(KEY_B), "gemini-2.5-pro", "rate_limited")
        ]
        assert 40 < data["cooldowns"][0]["seconds_left"] <= 42.5
        assert data["keys"] == [mask(KEY_A), mask(KEY_B)] and data["scope"] == "pool"
        own = httpx.get(server.url + "/status/data", headers={"x-goog-api-key": KEY_C}).json()
        assert own["scope"] == "own" and own["keys"] == [mask(KEY_C)] and own["cooldowns"] == []
    finally:
        server.stop()
