"""Live-session pages in real Chromium: zero axe-core violations in every theme (/live, a waiting room,
a left-over participant's page, /admin/live and a session page), and the waiting room's script sending the
heartbeat and taking both people present to their conversation when the session is paired."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.db import database, utcnow
from core.models import LiveSession
from core.scheduling import live
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.profiles import complete_profile
from tests.test_cohorts import LeanGapPlugin


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each page is checked in every bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {"theme": {"name": theme_name}, "plugins": {"questionnaire_yaml": None},
            "matching": {"strategy": "lean_gap"}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean_gap": LeanGapPlugin()}


@pytest.fixture
def people(live_server: Any) -> dict[str, Any]:
    """Ann (left) and Ben (right) with complete profiles; an admin."""
    found = {}
    for name, lean in (("ann", "1"), ("ben", "7")):
        found[name] = create_account(f"{name}@example.org")
        complete_profile(live_server.app, found[name], lean=lean, first_name=name.title())
    found["root"] = create_account("root@example.org", role="admin")
    return found


def new_session(app: Any, starts_in: dt.timedelta, title: str = "Thursday evening") -> LiveSession:
    with app.app_context(), database.connection_context():
        return LiveSession.create(title=title, starts_at=utcnow() + starts_in)


def test_participant_pages(live_server, page, people):
    soon = new_session(live_server.app, dt.timedelta(minutes=5))
    new_session(live_server.app, dt.timedelta(days=7), "Next week")
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, live_server.url + "/live")
    with page.expect_navigation():
        page.get_by_role("button", name="RSVP to Next week").click()
    assert page.get_by_role("button", name="Cancel my RSVP to Next week").is_visible()
    assert_accessible(page)
    open_page(page, f"{live_server.url}/live/{soon.id}")
    page.get_by_text("We know you're here").wait_for()  # the script's first heartbeat
    assert_accessible(page)


def test_left_over_page(live_server, page, people):
    session = new_session(live_server.app, dt.timedelta(minutes=5))
    new_session(live_server.app, dt.timedelta(days=7), "Next week")
    with live_server.app.test_request_context(), database.connection_context():
        live.present(session, people["ann"])
        LiveSession.update(starts_at=utcnow()).where(LiveSession.id == session.id).execute()
        live.pair_session(LiveSession.get_by_id(session.id))
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/live/{session.id}")
    assert page.get_by_text(live.NOBODY_ELSE).is_visible()
    assert page.get_by_role("button", name="RSVP to Next week").is_visible()
    assert_accessible(page)


def test_admin_pages(live_server, page, people):
    session = new_session(live_server.app, dt.timedelta(minutes=5))
    with live_server.app.test_request_context(), database.connection_context():
        live.present(session, people["ann"])
    sign_in(page, live_server.url, "root@example.org")
    open_page(page, live_server.url + "/admin/live")
    assert_accessible(page)
    open_page(page, f"{live_server.url}/admin/live/{session.id}")
    assert page.get_by_role("button", name="Pair now").is_visible()
    assert_accessible(page)


@pytest.mark.parametrize("theme_name", THEMES[:1], indirect=True)
def test_both_people_present_are_taken_to_their_conversation(live_server, page, browser, people):
    session = new_session(live_server.app, dt.timedelta(minutes=5))
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, f"{live_server.url}/live/{session.id}")
    other = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        ben = other.new_page()
        sign_in(ben, live_server.url, "ben@example.org")
        open_page(ben, f"{live_server.url}/live/{session.id}")
        for each in (page, ben):
            each.get_by_text("We know you're here").wait_for()
        ben.wait_for_timeout(500)  # the Socket.IO connection is open
        with live_server.app.test_request_context(), database.connection_context():
            LiveSession.update(starts_at=utcnow()).where(LiveSession.id == session.id).execute()
            (conversation,) = live.pair_session(LiveSession.get_by_id(session.id)).conversations
        for each in (page, ben):
            each.wait_for_url(f"**/conversations/{conversation.id}**", timeout=10000)
    finally:
        other.close()
