"""Two-factor sign-in in real headless Chromium: an admin sets up an authenticator app when first signing in
and signs in with a code; a passkey is registered and used through Chromium's virtual authenticator
(DevTools protocol `WebAuthn.addVirtualAuthenticator`), as a second factor and without a password.

The site is reached as http://localhost:PORT: WebAuthn accepts localhost as a secure origin and relying
party, and refuses an IP address. Every new page is checked with axe-core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from core import audit
from core.db import database
from core.models import AuditEvent, PasskeyCredential, User
from tests.browser import PASSWORD, create_account
from tests.browser.test_accessibility import assert_accessible
from tests.conftest import LiveServer, start_live_server


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """The shipped default: staff must set up a second factor."""
    return {"accounts": {"mfa": {"required_roles": ["admin", "facilitator", "staff"]}}}


@pytest.fixture
def site(tmp_path: Path, database_url: str, oss_connect_settings: dict[str, Any],
         oss_connect_plugins: dict[str, Any]) -> Iterator[LiveServer]:
    """A live server whose public address is http://localhost:PORT."""
    from core.testing import empty_tables

    live, server = start_live_server(tmp_path, database_url, oss_connect_settings, oss_connect_plugins,
                                     host_name="localhost")
    yield live
    server.shutdown()
    with database.connection_context():
        empty_tables()


def virtual_authenticator(page: Any) -> Any:
    """A platform authenticator (like a laptop's fingerprint reader) that holds passkeys and verifies
    its user, added to the page's browser through the DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp


def password_step(page: Any, base_url: str, email: str) -> None:
    """Fill in and send the sign-in form."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Any) -> None:
    """Use the header's sign-out button."""
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out", exact=True).click()


SESSION_ACTIONS = (audit.SIGN_IN, audit.SIGN_OUT, audit.SESSION_REVOKED, audit.SESSIONS_REVOKED)


def audit_actions(user_id: int) -> list[str]:
    """The audit record's actions about one person's second factor, oldest first (sign-ins and sign-outs,
    which the sessions record, left out)."""
    with database.connection_context():
        return [event.action for event in AuditEvent.select().where(
            (AuditEvent.subject_id == user_id) & AuditEvent.action.not_in(SESSION_ACTIONS)).order_by(AuditEvent.id)]


def test_an_admin_sets_up_an_authenticator_app_at_first_sign_in_then_signs_in_with_a_code(site, page):
    admin = create_account("root@example.org", role="admin")

    password_step(page, site.url, "root@example.org")
    page.wait_for_url(f"{site.url}/account/security/totp")
    assert page.get_by_role("heading", name="Set up a second factor to continue").is_visible()
    assert page.locator(".qr-code svg").is_visible()
    assert_accessible(page)
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("The 6-digit code your app shows").fill(totp.now())
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on the second factor").click()

    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    assert page.locator(".recovery-codes code").count() == 10
    assert_accessible(page)
    page.get_by_role("link", name="I have kept them safe: continue").click()
    page.wait_for_url(f"{site.url}/account")
    sign_out(page)

    password_step(page, site.url, "root@example.org")
    page.wait_for_url(f"{site.url}/login/second-factor")
    page.get_by_label("Code from your authenticator app, or a recovery code").fill("000000")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert page.locator("#code-error").inner_text().startswith("That code is not right")
    assert_accessible(page)
    next_code = totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))  # the enrolment spent this step's
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(next_code)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()

    page.wait_for_url(f"{site.url}/account")
    assert page.get_by_role("link", name="Admin").is_visible()
    assert audit_actions(admin.id) == [audit.MFA_ENROLLED, audit.MFA_FAILED]
    page.goto(f"{site.url}/admin/second-factor?email=root%40example.org")  # where an admin would reset it
    assert page.get_by_role("button", name="Reset root@example.org's second factor").is_visible()
    assert_accessible(page)


def test_a_passkey_is_registered_then_signs_in_as_second_factor_and_without_a_password(site, page):
    user = create_account("ada@example.org")
    virtual_authenticator(page)
    password_step(page, site.url, "ada@example.org")
    page.wait_for_url(f"{site.url}/account")

    page.goto(f"{site.url}/account/security")
    assert_accessible(page)
    page.get_by_label("Name for a new passkey").fill("Laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/security/recovery-codes/new")
    assert page.locator(".recovery-codes code").count() == 10
    page.get_by_role("link", name="I have kept them safe: continue").click()
    page.wait_for_url(f"{site.url}/account/security")
    assert page.get_by_text("Laptop, added").is_visible()
    sign_out(page)

    password_step(page, site.url, "ada@example.org")  # the password, then the passkey as second factor
    page.wait_for_url(f"{site.url}/login/second-factor")
    assert_accessible(page)
    page.get_by_role("button", name="Use my passkey").click()
    page.wait_for_url(f"{site.url}/account")
    sign_out(page)

    page.goto(f"{site.url}/login")  # the passkey alone, no address and no password
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{site.url}/account")

    assert page.get_by_role("heading", name="Your account").is_visible()
    with database.connection_context():
        key = PasskeyCredential.get(PasskeyCredential.user == User.get_by_id(user.id))
        assert (key.name, key.last_used_at is not None) == ("Laptop", True)
    assert audit_actions(user.id) == [audit.PASSKEY_ADDED]


def test_a_passkey_the_site_does_not_know_is_refused_with_a_message(site, page):
    create_account("ada@example.org")
    virtual_authenticator(page)
    password_step(page, site.url, "ada@example.org")
    page.goto(f"{site.url}/account/security")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/security/recovery-codes/new")
    sign_out(page)
    with database.connection_context():
        PasskeyCredential.delete().execute()  # the site forgot it; the authenticator still offers it

    page.goto(f"{site.url}/login")
    page.get_by_role("button", name="Use a passkey").click()

    status = page.locator("[data-passkey-status]")
    status.filter(has_text="not accepted").wait_for()
    assert page.url == f"{site.url}/login"


def test_a_facilitator_may_set_up_a_passkey_instead_of_an_app_at_first_sign_in(site, page):
    facilitator = create_account("fay@example.org", role="facilitator")
    virtual_authenticator(page)

    password_step(page, site.url, "fay@example.org")
    page.wait_for_url(f"{site.url}/account/security/totp")
    page.get_by_label("Name for this passkey").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{site.url}/account/security/recovery-codes/new")
    page.get_by_role("link", name="I have kept them safe: continue").click()

    page.wait_for_url(f"{site.url}/account")
    assert page.get_by_role("heading", name="Your account").is_visible()
    assert audit_actions(facilitator.id) == [audit.PASSKEY_ADDED]
    page.goto(f"{site.url}/account/security/recovery-codes/new")  # shown once only
    page.wait_for_url(f"{site.url}/account/security")
