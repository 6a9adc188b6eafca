"""The idle warning in real Chromium (WCAG 2.2.1): before an idle timeout the page says so in an accessible
dialog with focus on "Stay signed in", which extends the session; left alone, the page says it has signed
out. Time is moved by editing the session's deadline, not by sleeping through a real timeout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from core.models import UserSession
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible


@pytest.fixture(params=THEMES)
def oss_connect_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"theme": {"name": request.param}}


def ends_in(email_user: Any, seconds: int) -> None:
    """The session's idle deadline is `seconds` away, and it was just active (so a page load does not move it)."""
    with database.connection_context():
        UserSession.update(idle_expires_at=utcnow() + dt.timedelta(seconds=seconds), last_seen_at=utcnow()).where(
            UserSession.user == email_user.id).execute()


def idle_deadline(user: Any) -> dt.datetime:
    with database.connection_context():
        return UserSession.get(UserSession.user == user.id).idle_expires_at


def test_the_page_warns_before_the_idle_timeout_and_stay_signed_in_extends_it(live_server, page):
    ann = create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    ends_in(ann, 90)

    open_page(page, live_server.url + "/account")

    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    dialog.wait_for()
    assert "signed out in" in dialog.inner_text()
    stay = dialog.get_by_role("button", name="Stay signed in")
    assert stay.evaluate("node => node === document.activeElement"), "focus moves to the dialog's button"
    assert_accessible(page)

    stay.click()

    dialog.wait_for(state="hidden")
    assert idle_deadline(ann) > utcnow() + dt.timedelta(minutes=29)


def test_escape_also_keeps_the_session(live_server, page):
    ann = create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    ends_in(ann, 60)
    open_page(page, live_server.url + "/account")
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()

    page.keyboard.press("Escape")

    dialog.wait_for(state="hidden")
    assert idle_deadline(ann) > utcnow() + dt.timedelta(minutes=29)


def test_left_alone_the_page_says_it_signed_out(live_server, page):
    ann = create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    ends_in(ann, 3)

    open_page(page, live_server.url + "/account")

    signed_out = page.get_by_role("alertdialog", name="You have been signed out")
    signed_out.wait_for(timeout=15_000)
    link = signed_out.get_by_role("link", name="Sign in again")
    assert link.evaluate("node => node === document.activeElement")
    assert "next=%2Faccount" in (link.get_attribute("href") or "")
    assert_accessible(page)
    with database.connection_context():
        assert not UserSession.select().where(UserSession.user == ann.id).exists()


def test_no_warning_while_there_is_time(live_server, page):
    create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")

    open_page(page, live_server.url + "/account")
    page.wait_for_load_state("networkidle")

    assert page.get_by_role("alertdialog").count() == 0


def test_before_the_absolute_lifetime_the_page_says_when_the_sign_in_ends(live_server, page):
    ann = create_account("ann@example.org")
    sign_in(page, live_server.url, "ann@example.org")
    with database.connection_context():
        soon = utcnow() + dt.timedelta(seconds=90)
        UserSession.update(idle_expires_at=soon, absolute_expires_at=soon, last_seen_at=utcnow()).where(
            UserSession.user == ann.id).execute()

    open_page(page, live_server.url + "/account")

    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    dialog.wait_for()
    assert "this sign-in ends in" in dialog.inner_text()
    assert dialog.get_by_role("button", name="Stay signed in").count() == 0
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="hidden")
