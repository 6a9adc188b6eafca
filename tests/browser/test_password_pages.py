"""Changing the password and "Confirm it's you" in real Chromium, checked with axe: a wrong current
password is refused at its field and the other device is signed out after a change; an old sign-in that
opens the authenticator setup is asked for the password first, then comes back to the setup."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core import audit
from core.db import database, utcnow
from core.models import AuditEvent, PasskeyCredential, UserSession
from tests.browser import PASSWORD, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_two_factor import site, virtual_authenticator  # noqa: F401 (a fixture)

NEW = "violet umbrella quarry marmalade"


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """Participants only here (no second factor is required), with room for a few tries."""
    return {"accounts": {"rate_limits": {"login": "1000 per minute"}}}


def change_password(page: Any, current: str, new: str) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Repeat the new password").fill(new)
    with page.expect_navigation():
        page.get_by_role("button", name="Change my password").click()


def test_changing_the_password_refuses_a_wrong_current_one_and_signs_out_the_other_device(live_server, browser,
                                                                                           page):
    create_account("ada@example.org")
    other = browser.new_page()
    sign_in(other, live_server.url, "ada@example.org")
    sign_in(page, live_server.url, "ada@example.org")
    with page.expect_navigation():
        page.get_by_role("link", name="Change your password").click()
    page.get_by_role("heading", name="Change your password").wait_for()
    assert_accessible(page)

    change_password(page, "not my password at all", NEW)
    error = page.locator("#current-error")
    assert "That is not your current password" in error.inner_text()
    assert page.get_by_label("Current password").get_attribute("aria-describedby") == "current-error"
    assert_accessible(page)

    change_password(page, PASSWORD, NEW)
    assert page.url == f"{live_server.url}/account"
    assert "Your password is changed. Signed out everywhere else (1 other device" in page.locator("main").inner_text()
    assert_accessible(page)
    open_page(other, f"{live_server.url}/account")
    assert other.url.startswith(f"{live_server.url}/login"), "the other device was signed out"


def test_an_old_sign_in_confirms_with_the_password_before_setting_up_an_app(live_server, page):
    create_account("ada@example.org")
    sign_in(page, live_server.url, "ada@example.org")
    with database.connection_context():
        UserSession.update(authenticated_at=utcnow() - dt.timedelta(minutes=30)).execute()

    open_page(page, f"{live_server.url}/account/security")
    with page.expect_navigation():
        page.get_by_role("link", name="Set up an authenticator app").click()
    page.get_by_role("heading", name="Confirm it's you").wait_for()
    assert "Confirm it's you first" in page.locator("main").inner_text()
    assert_accessible(page)

    page.get_by_label("Your password").fill("not my password at all")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert "That is not your current password" in page.locator(".field-error").inner_text()
    assert_accessible(page)

    page.get_by_label("Your password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert page.url == f"{live_server.url}/account/security/totp"
    assert page.locator("#totp-secret").is_visible()


def test_adding_a_passkey_after_an_old_sign_in_goes_to_confirm_first_then_works(site, page):  # noqa: F811
    """The passkey script follows the server's 401 to "Confirm it's you" (a WebAuthn request cannot be
    replayed after it), and the second press registers the passkey."""
    create_account("ada@example.org")
    virtual_authenticator(page)
    sign_in(page, site.url, "ada@example.org")
    with database.connection_context():
        UserSession.update(authenticated_at=utcnow() - dt.timedelta(minutes=30)).execute()

    page.goto(f"{site.url}/account/security")
    page.get_by_label("Name for a new passkey").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/confirm?next=/account/security")
    with database.connection_context():
        assert PasskeyCredential.select().count() == 0
    page.get_by_label("Your password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()

    assert page.url == f"{site.url}/account/security"
    page.get_by_label("Name for a new passkey").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/security/recovery-codes/new")
    with database.connection_context():
        assert [key.name for key in PasskeyCredential.select()] == ["Laptop"]


def test_a_passkey_confirms_it_is_you(site, page):  # noqa: F811
    create_account("ada@example.org")
    virtual_authenticator(page)
    sign_in(page, site.url, "ada@example.org")
    page.goto(f"{site.url}/account/security")
    page.get_by_label("Name for a new passkey").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/security/recovery-codes/new")
    with database.connection_context():
        UserSession.update(authenticated_at=utcnow() - dt.timedelta(minutes=30)).execute()

    page.goto(f"{site.url}/account/security")
    with page.expect_navigation():
        page.get_by_role("button", name="Make ten new codes (the old ones stop working)").click()
    page.get_by_role("heading", name="Confirm it's you").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Use my passkey").click()

    page.wait_for_url(f"{site.url}/account/security")
    with page.expect_navigation():
        page.get_by_role("button", name="Make ten new codes (the old ones stop working)").click()
    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    with database.connection_context():
        [confirmed] = AuditEvent.select().where(AuditEvent.action == audit.REAUTHENTICATED)
        assert confirmed.details["factor"] == "passkey"
