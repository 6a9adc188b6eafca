"""Matching pages in real Chromium: zero axe-core violations in every theme (suggestions, an invitation,
the invitations list, the admin's pool health), and the live notification shown in a status region."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.matching_fakes import LeanPlugin
from tests.profiles import complete_profile


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each page is checked in every bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {"theme": {"name": theme_name}, "plugins": {"questionnaire_yaml": None}, "matching": {"strategy": "lean"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


@pytest.fixture
def people(live_server: Any) -> dict[str, Any]:
    """Ann (left) and Ben, Cal (right) with complete profiles; an admin."""
    found = {}
    for name, lean in (("ann", "2"), ("ben", "6"), ("cal", "7")):
        user = create_account(f"{name}@example.org")
        complete_profile(live_server.app, user, lean=lean, first_name=name.title())
        found[name] = user
    found["root"] = create_account("root@example.org", role="admin")
    return found


def invite(page: Any, base_url: str, name: str) -> str:
    """Invite `name` from the suggestions page, as a participant does; return the invitation page's URL."""
    open_page(page, f"{base_url}/suggestions")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Invite {name}").click()
    assert "/invitations/" in page.url
    return page.url


def test_suggestions_page(live_server, page, people, theme_name):
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, live_server.url + "/suggestions")
    assert page.get_by_role("button", name="Invite Cal G.").is_visible()
    assert_accessible(page)
    page.screenshot(path=str(Path(os.environ["OSS_CONNECT_TEST_ARTIFACTS"]) / f"suggestions-{theme_name}.png"),
                    full_page=True)


def test_received_invitation_and_invitations_list(live_server, page, browser, people):
    sign_in(page, live_server.url, "ann@example.org")
    url = invite(page, live_server.url, "Ben G.")
    assert_accessible(page)  # the inviter's view, with the flash message
    other = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        ben = other.new_page()
        sign_in(ben, live_server.url, "ben@example.org")
        open_page(ben, url)
        assert ben.get_by_role("button", name="Accept").is_visible()
        assert_accessible(ben)
        open_page(ben, live_server.url + "/invitations")
        assert ben.get_by_role("link", name="Ann G.").is_visible()
        assert_accessible(ben)
    finally:
        other.close()


def test_admin_pool_page(live_server, page, people):
    sign_in(page, live_server.url, "root@example.org")
    open_page(page, live_server.url + "/admin/pool")
    assert page.get_by_role("heading", name="Pool health").is_visible()
    assert_accessible(page)


@pytest.mark.parametrize("theme_name", ["default"])
def test_the_invitee_sees_a_live_notification_without_reloading(live_server, page, browser, people):
    other = browser.new_context(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    try:
        ben = other.new_page()
        ben.on("pageerror", lambda error: errors.append(str(error)))
        ben.on("console", lambda message: errors.append(message.text)
               if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico") else None)
        sign_in(ben, live_server.url, "ben@example.org")
        open_page(ben, live_server.url + "/invitations")
        ben.wait_for_function("window.io !== undefined")
        ben.wait_for_timeout(500)  # let the socket connect
        sign_in(page, live_server.url, "ann@example.org")
        url = invite(page, live_server.url, "Ben G.")
        status = ben.locator(".live-notifications[role=status]")
        status.get_by_text("Ann G. would like to talk with you.").wait_for()
        link = status.get_by_role("link", name="See the invitation")
        assert link.get_attribute("href") == url.removeprefix(live_server.url)
        assert_accessible(ben)
        assert errors == []
    finally:
        other.close()
