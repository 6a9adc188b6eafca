"""The tech check in real headless Chromium with fake camera and microphone: preview, level meter, speaker
test, browser support and the connection checks all work; the tech check, join (waiting) and standby pages
have zero axe-core violations in every bundled theme."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.matching_fakes import LeanPlugin
from tests.profiles import complete_profile


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {"theme": {"name": theme_name}, "plugins": {"questionnaire_yaml": None}, "matching": {"strategy": "lean"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


def result(page: Any, check: str) -> Any:
    return page.locator(f'[data-check="{check}"]')


def wait_for_state(page: Any, check: str, state: str = "ok", timeout: int = 20_000) -> None:
    """Wait until a check has a result; fail with its text when it is not `state`."""
    page.locator(f'[data-check="{check}"]:not([data-state="pending"])').wait_for(timeout=timeout)
    assert result(page, check).get_attribute("data-state") == state, result(page, check).inner_text()


@pytest.mark.parametrize("theme_name", ["default"], indirect=True)
def test_every_check_passes_with_fake_devices(live_server, page, theme_name):
    create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/tech-check")
    page.wait_for_selector("#tech-check[data-ready=true]")
    page.get_by_role("button", name="Start the check").click()

    for check in ("browser", "camera", "microphone", "socket", "peer"):
        wait_for_state(page, check)
    assert page.evaluate("document.getElementById('camera-preview').videoWidth") > 0
    assert page.evaluate("document.getElementById('mic-level').value") > 0
    assert "of 100" in page.locator("#mic-level-text").inner_text()
    browser_items = page.locator("#browser-checks li")
    assert browser_items.count() == 5
    for index in range(5):
        assert browser_items.nth(index).inner_text().endswith(": supported")
    assert "round trip" in result(page, "socket").inner_text()
    assert "Live connection to this site: OK" in page.locator("#tech-check-status").inner_text() or \
        "OK" in result(page, "socket").inner_text()

    page.get_by_role("button", name="Play a test sound").click()
    page.get_by_role("button", name="Yes, I heard it").click()
    wait_for_state(page, "speaker")
    assert "heard" in page.locator("#tech-check-status").inner_text()


@pytest.mark.parametrize("theme_name", ["default"], indirect=True)
def test_a_provider_check_can_be_added(live_server, page, theme_name):
    create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/tech-check")
    page.wait_for_selector("#tech-check[data-ready=true]")
    page.evaluate("""(window.ossTechCheckChecks = window.ossTechCheckChecks || []).push({
        id: "provider", label: "Connection to the call provider",
        run: function () { return Promise.resolve({ok: false, detail: "blocked by a firewall"}); }})""")
    page.get_by_role("button", name="Start the check").click()
    wait_for_state(page, "provider", "fail")
    assert result(page, "provider").inner_text() == \
        "Connection to the call provider: not OK (blocked by a firewall)."


def test_tech_check_page_is_accessible(live_server, page, theme_name):
    create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/tech-check")
    page.wait_for_selector("#tech-check[data-ready=true]")
    assert not page.get_by_text("This check needs JavaScript").is_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Start the check").click()
    wait_for_state(page, "camera")
    page.get_by_role("button", name="Play a test sound").click()
    assert_accessible(page)


def test_tech_check_without_javascript_explains_why(browser, live_server, theme_name):
    create_account("ann@example.org")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server.url, "ann@example.org")
        open_page(page, f"{live_server.url}/tech-check")
        assert page.get_by_role("heading", name="This check needs JavaScript").is_visible()
        assert not page.get_by_role("button", name="Start the check").is_visible()
    finally:
        context.close()


def participants(live_server: Any, *names: str) -> dict[str, Any]:
    people = {}
    for name, lean in zip(names, ("2", "6", "7"), strict=False):
        user = create_account(f"{name}@example.org")
        complete_profile(live_server.app, user, lean=lean, first_name=name.title())
        people[name] = user
    return people


def test_join_and_standby_pages_are_accessible(live_server, page, browser, theme_name):
    from core.scheduling.conversations import create_conversation

    people = participants(live_server, "ann", "ben", "cal")
    with live_server.app.app_context(), database.connection_context():
        conversation = create_conversation(people["ann"].id, people["ben"].id,
                                           starts_at=utcnow() - dt.timedelta(minutes=12))
    cal_context = browser.new_context()
    try:
        cal = cal_context.new_page()
        sign_in(cal, live_server.url, "cal@example.org")
        open_page(cal, f"{live_server.url}/standby")
        assert_accessible(cal)
        cal.get_by_role("button", name="I'm available now").click()
        cal.get_by_role("button", name="Not any more").wait_for()
        assert_accessible(cal)
    finally:
        cal_context.close()

    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/conversations/{conversation.id}/join")
    assert page.get_by_role("heading", name="Waiting for Ben G.").is_visible()
    assert_accessible(page)
    page.get_by_role("button", name="I'm here").click()  # opening the page records nothing; this does
    page.get_by_role("button", name="Ben G. has not come: mark as no-show").click()
    page.get_by_role("button", name="Talk with Cal G. now").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Talk with Cal G. now").click()
    page.get_by_role("heading", name="Waiting for Cal G.").wait_for()
    assert_accessible(page)
