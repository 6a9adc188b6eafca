"""The "After your conversation" page in real headless Chromium: Ann ticks public and deposit, Ben proposes
a description, Ann approves it, and both see what results; zero axe-core violations in each state (and in
every bundled theme with a proposal waiting and a form error); docs/screenshots/archive-choices.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.archive_helpers import DESCRIPTION, processed
from tests.browser import THEMES, create_account, open_page
from tests.browser.test_accessibility import assert_accessible
from tests.browser.test_room import person, screenshot_options
from tests.browser.test_screenshots import DESKTOP, ORGANISATIONS, assert_sane_png, save_screenshot
from tests.matching_fakes import LeanPlugin
from tests.room_fakes import booked, people


@pytest.fixture
def theme_name() -> str:
    """The theme shown; the accessibility test runs in each bundled theme."""
    return "default"


@pytest.fixture
def oss_connect_settings(theme_name: str) -> dict[str, Any]:
    """A plausible partner's site, the lean matching fake for profiles."""
    return {"site": {"name": "Common Ground", "organisation": ORGANISATIONS["default"]},
            "theme": {"name": theme_name},
            "plugins": {"questionnaire_yaml": None},
            "matching": {"strategy": "lean"},
            "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50}}


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return {"lean": LeanPlugin()}


@pytest.fixture
def conversation(live_server: Any) -> Any:
    """Ann and Ben's conversation, ended an hour ago, with a processed recording."""
    cast = people(live_server.app, create_account)
    found = booked(live_server.app, cast["ann"], cast["ben"], minutes_ago=140)
    processed(live_server.app, found)
    return found


def row_text(page: Any, purpose: str) -> str:
    return " ".join(page.locator(f'[data-purpose="{purpose}"] strong').inner_text().split())


def propose(page: Any) -> None:
    """Fill in the description form with the shared example and send it."""
    page.get_by_label("Title").fill(DESCRIPTION["title"])
    page.get_by_label("Summary").fill(DESCRIPTION["summary"])
    page.get_by_label("Keywords").fill(", ".join(DESCRIPTION["keywords"]))
    page.get_by_label("Places (optional)").fill("\n".join(DESCRIPTION["places"]))
    page.get_by_label("Where you were during the conversation (optional)").fill(DESCRIPTION["location"])
    with page.expect_navigation():
        page.get_by_role("button", name="Propose it to Ann G.").click()


def test_choices_and_a_description_agreed_in_the_browser(browser, live_server, conversation):
    url = f"{live_server.url}/conversations/{conversation.id}/archive"
    with person(browser, live_server, "ann@example.org", **screenshot_options()) as ann, \
            person(browser, live_server, "ben@example.org") as ben:
        open_page(ann, url)
        assert_accessible(ann)  # nothing decided yet
        ann.get_by_label("Publish it on this site").check()
        ann.get_by_label("Deposit it at the archive").check()
        with ann.expect_navigation():
            ann.get_by_role("button", name="Save my choices").click()
        assert "once Ben G. chooses the deposit and public too" in ann.locator(".flash-success").inner_text()
        assert row_text(ann, "public").endswith("Only if you both choose it — waiting for Ben G.")

        open_page(ben, url)
        assert row_text(ben, "public").endswith("Ann G. did; waiting for you")
        ben.get_by_label("Publish it on this site").check()
        with ben.expect_navigation():
            ben.get_by_role("button", name="Save my choices").click()
        assert "Saved. Your conversation will be public." in ben.locator(".flash-success").inner_text()
        propose(ben)
        assert ben.get_by_role("heading", name="Your proposal, waiting for Ann G.").is_visible()
        assert_accessible(ben)

        open_page(ann, url)
        assert ann.get_by_role("heading", name="Ben G. proposes").is_visible()
        assert_accessible(ann)  # a proposal waiting, with Approve and Decline
        with ann.expect_navigation():
            ann.get_by_role("button", name="Approve").click()
        assert "Approved" in ann.locator(".flash-success").inner_text()

        for page in (ann, ben):
            open_page(page, url)
            assert row_text(page, "public").endswith("Yes: you both chose it")
            assert DESCRIPTION["title"] in page.locator("#approved-description").inner_text()
            assert "example.org" not in page.locator("main").inner_text().replace("hello@example.org", "")
        assert row_text(ann, "deposit").endswith("No: Ben G. did not choose it (it happens only if you both do)")
        assert_accessible(ann)  # decided, with an approved description
        assert ann.locator("audio[controls]").count() == 1
        ann.locator("#choices").scroll_into_view_if_needed()
        assert_sane_png(save_screenshot(ann, "archive-choices"), DESKTOP["width"])


@pytest.mark.parametrize("theme_name", THEMES)
def test_the_page_with_a_proposal_waiting_and_a_form_error_is_accessible_in_every_theme(browser, live_server,
                                                                                          conversation, theme_name):
    url = f"{live_server.url}/conversations/{conversation.id}/archive"
    with person(browser, live_server, "ben@example.org") as ben, \
            person(browser, live_server, "ann@example.org") as ann:
        open_page(ben, url)
        propose(ben)
        open_page(ann, url)
        ann.get_by_label("Title").fill("No")
        with ann.expect_response(lambda response: response.request.method == "POST") as answer:
            ann.get_by_role("button", name="Propose it to Ben G.").click()
        assert answer.value.status == 400
        ann.wait_for_load_state("load")
        assert "Give a title of 3 to 200 characters." in ann.locator("#title-error").inner_text()
        assert ann.get_by_role("heading", name="Ben G. proposes").is_visible()
        assert_accessible(ann)
