"""The credential pages in real Chromium, checked with axe: a refused password says why at its field; a
locked account is refused at the sign-in form, and the emailed unlock link's button unlocks it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from core.db import database
from core.models import ThrottleFailure
from core.testing import Outbox
from tests.browser import PASSWORD, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible


@pytest.fixture
def oss_connect_settings() -> dict[str, Any]:
    """Flask-Limiter out of the way, so only the sign-in throttle answers."""
    return {"accounts": {"rate_limits": {"login": "1000 per minute"}}}


def try_password(page: Any, base_url: str, email: str, password: str) -> None:
    """Submit the sign-in form once and wait for the answer."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def let_time_pass(seconds: int) -> None:
    """Move every stored failed sign-in into the past."""
    with database.connection_context():
        for row in ThrottleFailure.select():
            row.created_at -= dt.timedelta(seconds=seconds)
            row.save()


def test_a_common_password_is_refused_at_its_field(live_server, page):
    open_page(page, f"{live_server.url}/signup")
    page.get_by_label("Email address").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill("qwertyuiop")
    page.get_by_label("Repeat the password").fill("qwertyuiop")
    with page.expect_navigation():
        page.get_by_role("button", name="Create my account").click()

    error = page.locator(".field-error").first
    assert "too easy to guess" in error.inner_text()
    assert_accessible(page)


def test_a_locked_account_is_refused_and_its_unlock_link_unlocks_it(live_server, page):
    create_account("ada@example.org")
    for _ in range(10):
        let_time_pass(400)
        try_password(page, live_server.url, "ada@example.org", "not my password at all")

    try_password(page, live_server.url, "ada@example.org", PASSWORD)
    assert "this account is locked for 15 minutes" in page.locator("main").inner_text()
    assert_accessible(page)

    outbox = Outbox(Path(live_server.app.config["OSS_CONNECT_OUTBOX"]))
    link = next(url for url in outbox.links(outbox.last_to("ada@example.org")) if "/unlock/" in url)
    open_page(page, link)
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Unlock my account").click()
    page.get_by_role("heading", name="Your account is unlocked").wait_for()
    assert_accessible(page)

    sign_in(page, live_server.url, "ada@example.org")
