"""Scheduling pages in real Chromium: zero axe-core violations in every theme on the conversations list and
on a conversation page with proposals, agreements and messages, and with form errors; booking by clicking."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from core.db import database
from tests.browser import THEMES, create_account, open_page, sign_in
from tests.browser.test_accessibility import assert_accessible
from tests.profiles import complete_profile

EVERY_AFTERNOON = [f"{day}-afternoon" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
EVERY_EVENING = [f"{day}-evening" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


@pytest.fixture(params=THEMES)
def theme_name(request: pytest.FixtureRequest) -> str:
    """Each page is checked in every bundled theme."""
    return request.param


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    return {"theme": {"name": theme_name}, "plugins": {"questionnaire_yaml": None}}


@pytest.fixture
def conversation(live_server: Any) -> Any:
    """Ann (New York, afternoons) and Ben (Berlin, evenings), matched, with their conversation."""
    from core.models import Match
    from core.scheduling.conversations import conversation_for_match

    ann, ben = create_account("ann@example.org"), create_account("ben@example.org")
    complete_profile(live_server.app, ann, first_name="Ann", time_zone="America/New_York",
                     availability=EVERY_AFTERNOON)
    complete_profile(live_server.app, ben, first_name="Ben", time_zone="Europe/Berlin", availability=EVERY_EVENING)
    with live_server.app.test_request_context(), database.connection_context():
        return conversation_for_match(Match.create(a=ann.id, b=ben.id))


def test_conversations_list(live_server, page, conversation):
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, live_server.url + "/conversations")
    assert page.get_by_role("link", name="Ben G.").is_visible()
    assert_accessible(page)


def test_conversation_page_with_proposals_agreements_messages_and_errors(live_server, page, browser, conversation,
                                                                        theme_name):
    url = f"{live_server.url}/conversations/{conversation.id}"
    sign_in(page, live_server.url, "ann@example.org")
    open_page(page, url)
    assert_accessible(page)  # nothing proposed yet: options, agreements, empty thread
    # Form errors: nothing chosen, then an empty message.
    with page.expect_navigation():
        page.get_by_role("button", name="Propose this time").click()
    assert page.get_by_text("Choose one of the suggested times").is_visible()
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert page.get_by_text("Write a message before sending it.").is_visible()
    assert_accessible(page)
    # A proposal, the agreements and a message with a phone number.
    page.locator("#option-1").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Propose this time").click()
    with page.expect_navigation():
        page.get_by_role("button", name="I accept the agreements").click()
    page.get_by_label("Message to Ben G.").fill("Looking forward to it. Text me at 555-123-4567.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert page.get_by_text("we hid a phone number").is_visible()
    assert_accessible(page)
    other = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        ben = other.new_page()
        sign_in(ben, live_server.url, "ben@example.org")
        open_page(ben, url)
        assert ben.get_by_text("Text me at [hidden]").is_visible()
        assert_accessible(ben)  # a proposal to confirm, the partner's message
        with ben.expect_navigation():
            ben.get_by_role("button", name="I accept the agreements").click()
        with ben.expect_navigation():
            ben.get_by_role("button", name="Confirm this time").click()
        assert ben.get_by_text("The room opens at").is_visible()
        assert_accessible(ben)  # booked
        ben.screenshot(path=str(Path(os.environ["OSS_CONNECT_TEST_ARTIFACTS"]) / f"conversation-{theme_name}.png"),
                       full_page=True)
        open_page(ben, live_server.url + "/conversations")
        assert_accessible(ben)
    finally:
        other.close()
